#pragma once
// Host build of the kernels only (mixccl::kernels::host): a hook the step server (step_server_kernel.h) calls with
// each command before it runs it; false skips the command, as a fault a device would take. The GPU emulation of
// the tests sets it on the thread that runs a server, to check that every operand is memory a device could reach.
#include "device/kernels/step_queue.h"

namespace mixccl::kernels::host {

struct StepCheck {
  bool (*check)(void* context, const StepCommand& command) = nullptr;
  void* context = nullptr;
};
inline thread_local StepCheck hostStepCheck;

}  // namespace mixccl::kernels::host
