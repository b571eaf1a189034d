#pragma once
// Runs a check where /dev/shm is small: in a forked child with a mount namespace of its own and a tmpfs of the given
// size on /dev/shm (needs root), so that paths that run out of shared memory can be tested without filling the
// machine's. Everything the child and its children make there goes with the namespace.
#include <functional>
#include <string>

namespace mixccl::testing {

// Runs `check` in the child (its stdout and stderr captured; ended by SIGALRM after 240 s). Returns "" when check()
// returned true, else what the child printed; a reason to skip (not root, no mount namespace) starts with "skip: ".
std::string withSmallDevShm(int megabytes, const std::function<bool()>& check);

}  // namespace mixccl::testing
