#pragma once
// For the tests that force a transport (MIXCCL_TRANSPORTS): whether it is built, and why it cannot run here, so
// that each such test skips with the reason instead of failing where the transport or its library is missing.
#include <functional>
#include <string>

#include "support/rank_runner.h"

namespace mixccl::testing {

// Whether `name` ("shm", "ucx", "ofi") is one of this build's transports.
bool transportBuilt(const std::string& name);

// Why a transport setting cannot run here ("" if it can), found once per `key` and then cached in this process.
// `notBuilt` is the reason when `transport` is not built; otherwise `setEnv()` sets the environment the ranks
// inherit, a 2-rank communicator is initialised and destroyed with it, and `whyInitFailed` turns that run's result
// into the reason ("" when the setting works or the failure is not the environment's).
std::string transportUnavailable(const std::string& key, const std::string& transport, const std::string& notBuilt,
                                 const std::function<void()>& setEnv,
                                 const std::function<std::string(const RankRunResult&)>& whyInitFailed);

// transportUnavailable for UCX: not built, or UCX cannot create a context/worker in the environment `setEnv` makes.
std::string ucxUnavailable(const std::string& key, const std::string& tls, const std::function<void()>& setEnv);

}  // namespace mixccl::testing
