#pragma once
// The whole of a *_perf binary's main(): parse the flags, start the ranks, run the sweep, return the exit code (0 OK, 1
// error, 2 bad usage, 3 wrong results).
#include "common/collective.h"

namespace mixccl::perf {

int perfMain(int argc, char** argv, const Collective& coll);

}  // namespace mixccl::perf
