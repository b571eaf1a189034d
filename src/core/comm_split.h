#pragma once
// New communicators made from an existing one, through the parent's bootstrap: split (collective over the
// parent) and shrink (among the surviving ranks only). The first rank of each new communicator creates its
// unique id (so this process serves its rendezvous) and hands it to the others; then every member inits the
// child normally, so the child owns its own bootstrap, transports and shared memory, freed as for any
// communicator. Called on the thread that uses the parent.
#include <memory>
#include <vector>

#include "core/communicator.h"

namespace mixccl {

// Ranks of `parent` with the same color form a child, ranked by (key, parent rank); color MIXCCL_SPLIT_NOCOLOR
// takes part in the exchange and gets *out = null. Colors below -1 fail on every rank, naming the rank.
Result splitCommunicator(Communicator& parent, int color, int key, const Communicator::Options& options,
                         std::unique_ptr<Communicator>* out);

// Called by every rank of `parent` not in `excluded` (sorted, distinct, not containing this rank); the child holds
// the others in their parent order. Only survivors exchange messages, so excluded ranks may be dead. A survivor
// whose list differs from the first survivor's fails, naming both.
Result shrinkCommunicator(Communicator& parent, const std::vector<int>& excluded, const Communicator::Options& options,
                          std::unique_ptr<Communicator>* out);

}  // namespace mixccl
