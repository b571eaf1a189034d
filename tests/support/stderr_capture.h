#pragma once
// What a piece of code writes to this process's stderr (file descriptor 2), captured through a temporary file:
// tests of the library's warnings.
#include <functional>
#include <string>

namespace mixccl::testing {

// Runs `body` with fd 2 redirected and returns what was written to it meanwhile (or a note saying why nothing
// could be captured). Not reentrant; other threads' writes in that time are captured too.
std::string captureStderr(const std::function<void()>& body);

}  // namespace mixccl::testing
