// uniqueIdFromEnv(): a UniqueId built from a launcher's environment instead of a broadcast id.
//
// Launchers, first match wins (torchrun inside Slurm or Open MPI under Slurm set both):
//   torchrun  RANK, WORLD_SIZE; root at MASTER_ADDR, port MASTER_PORT+1 (torchrun's own store has MASTER_PORT)
//   Open MPI  OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE; root at 127.0.0.1 when OMPI_COMM_WORLD_LOCAL_SIZE
//             equals the size (one host), else MIXCCL_ROOT_ADDR is required
//   Slurm     SLURM_PROCID, SLURM_NTASKS; root at 127.0.0.1 on one node, else on the first host of
//             SLURM_STEP_NODELIST (where task 0 runs with the block and cyclic distributions)
// MIXCCL_ROOT_ADDR=host:port overrides the root address. Ports that are not given are derived from the job id,
// in [10000, 30000) (below Linux's ephemeral range).
//
// Security: without MIXCCL_SECRET the secret is a hash of the launcher's job id, which other users of the
// cluster can read or guess. It keeps stray connections (another job, a port scanner, a reused port) out of
// the rendezvous; it is NOT a defence against an attacker. Set MIXCCL_SECRET to a random value where that
// matters.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bootstrap/root.h"
#include "bootstrap/socket.h"
#include "bootstrap/unique_id.h"
#include "core/config.h"

namespace mixccl {
namespace {

using detail::SockAddr;

struct Launcher {
  const char* name;
  const char* rankVar;
  const char* sizeVar;
};
constexpr Launcher kTorchrun{"torchrun", "RANK", "WORLD_SIZE"};
constexpr Launcher kOpenMpi{"Open MPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"};
constexpr Launcher kSlurm{"Slurm", "SLURM_PROCID", "SLURM_NTASKS"};

// The value of `name`, or "" when unset.
std::string env(const char* name) {
  const char* v = getenv(name);
  return v != nullptr ? v : "";
}

Result envInt(const char* name, const char* launcher, long lo, long hi, long* out) {
  std::string text = env(name);
  if (text.empty()) return failf(mixcclInvalidUsage, "%s is not set (needed under %s)", name, launcher);
  char* end = nullptr;
  errno = 0;
  long v = strtol(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) {
    return failf(mixcclInvalidUsage, "%s=%s is malformed: expected an integer in [%ld, %ld]", name, text.c_str(), lo,
                 hi);
  }
  *out = v;
  return mixcclSuccess;
}

uint64_t fnv1a64(const std::string& s, uint64_t seed) {
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

void secretFrom(const std::string& text, uint8_t* secret) {
  uint64_t a = fnv1a64("mixccl-secret:" + text, 1), b = fnv1a64("mixccl-secret:" + text, 2);
  memcpy(secret, &a, 8);
  memcpy(secret + 8, &b, 8);
}

uint16_t portFrom(const std::string& jobId) { return static_cast<uint16_t>(10000 + fnv1a64(jobId, 3) % 20000); }

// The launcher's identity of this job ("" if it has none).
std::string jobId(const Launcher& l) {
  if (&l == &kTorchrun) {
    return env("TORCHELASTIC_RUN_ID") + "@" + env("MASTER_ADDR") + ":" + env("MASTER_PORT") + "/" + env("WORLD_SIZE");
  }
  if (&l == &kOpenMpi) {
    for (const char* v : {"OMPI_MCA_ess_base_jobid", "PMIX_NAMESPACE", "OMPI_MCA_orte_ess_jobid"}) {
      if (!env(v).empty()) return std::string(v) + "=" + env(v);
    }
    return "";
  }
  if (env("SLURM_JOB_ID").empty()) return "";
  return env("SLURM_JOB_ID") + "." + env("SLURM_STEP_ID");
}

// The first host of a Slurm node list: "gpu[03-05,9],cpu1" -> "gpu03".
std::string firstSlurmHost(const std::string& list) {
  size_t bracket = list.find('['), comma = list.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) return list.substr(0, comma);
  size_t end = list.find_first_of("-,]", bracket + 1);
  return list.substr(0, bracket) + list.substr(bracket + 1, end - bracket - 1);
}

Result resolveOrFail(const std::string& host, uint16_t port, const char* var, SockAddr* out) {
  std::string why;
  if (!detail::resolveHost(host, port, out, &why)) {
    return failf(mixcclInvalidUsage, "%s: cannot resolve host '%s': %s", var, host.c_str(), why.c_str());
  }
  return mixcclSuccess;
}

// Where the root is; *source says which variables gave it, for messages.
Result rootAddress(const Launcher& l, int nranks, SockAddr* out, std::string* source) {
  std::string spec = configString(cfg::kRootAddr);
  if (!spec.empty()) {
    *source = std::string(cfg::kRootAddr.name) + "=" + spec;
    size_t colon = spec.rfind(':');
    std::string host = colon == std::string::npos ? "" : spec.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    char* end = nullptr;
    long port = colon == std::string::npos ? 0 : strtol(spec.c_str() + colon + 1, &end, 10);
    if (host.empty() || port < 1 || port > 65535 || *end != '\0') {
      return failf(mixcclInvalidUsage, "%s is malformed: expected host:port", source->c_str());
    }
    return resolveOrFail(host, static_cast<uint16_t>(port), cfg::kRootAddr.name, out);
  }
  std::string job = jobId(l);
  if (&l == &kTorchrun) {
    long port = 0;
    if (env("MASTER_ADDR").empty()) return failf(mixcclInvalidUsage, "MASTER_ADDR is not set (needed under torchrun)");
    MIXCCL_TRY(envInt("MASTER_PORT", l.name, 1, 65534, &port));
    *source = "MASTER_ADDR, MASTER_PORT+1";
    return resolveOrFail(env("MASTER_ADDR"), static_cast<uint16_t>(port + 1), "MASTER_ADDR", out);
  }
  bool oneHost = false;
  std::string multiHost;
  if (&l == &kOpenMpi) {
    long local = 0;
    MIXCCL_TRY(envInt("OMPI_COMM_WORLD_LOCAL_SIZE", l.name, 1, nranks, &local));
    oneHost = local == nranks;
    multiHost = "the job spans several hosts (OMPI_COMM_WORLD_LOCAL_SIZE < OMPI_COMM_WORLD_SIZE)";
  } else {
    std::string nodes = env("SLURM_STEP_NUM_NODES").empty() ? env("SLURM_NNODES") : env("SLURM_STEP_NUM_NODES");
    std::string list = env("SLURM_STEP_NODELIST").empty() ? env("SLURM_JOB_NODELIST") : env("SLURM_STEP_NODELIST");
    oneHost = nodes == "1";
    if (!oneHost && !list.empty() && !job.empty()) {
      *source = "the first host of the Slurm node list, port derived from the job id";
      return resolveOrFail(firstSlurmHost(list), portFrom(job), "SLURM_STEP_NODELIST", out);
    }
    multiHost = "the Slurm step's nodes are unknown (SLURM_STEP_NUM_NODES, SLURM_STEP_NODELIST)";
  }
  if (!oneHost)
    return failf(mixcclInvalidUsage, "%s: set %s=host:port of rank 0", multiHost.c_str(), cfg::kRootAddr.name);
  if (job.empty()) {
    return failf(mixcclInvalidUsage, "%s gives no job id (%s) to derive the root port from: set %s=127.0.0.1:port",
                 l.name, &l == &kOpenMpi ? "OMPI_MCA_ess_base_jobid, PMIX_NAMESPACE" : "SLURM_JOB_ID",
                 cfg::kRootAddr.name);
  }
  *source = "127.0.0.1, port derived from the job id";
  *out = SockAddr::loopback(AF_INET, portFrom(job));
  return mixcclSuccess;
}

}  // namespace

Result uniqueIdFromEnv(UniqueId* id, int* rank, int* nranks) {
  const Launcher* launcher = nullptr;
  for (const Launcher* l : {&kTorchrun, &kOpenMpi, &kSlurm}) {
    if (!env(l->rankVar).empty()) {
      launcher = l;
      break;
    }
  }
  if (launcher == nullptr) {
    return failf(mixcclInvalidUsage,
                 "no launcher environment: set RANK and WORLD_SIZE (torchrun), or run under Open "
                 "MPI (OMPI_COMM_WORLD_RANK) or Slurm (SLURM_PROCID)");
  }
  long size = 0, r = 0;
  MIXCCL_TRY(envInt(launcher->sizeVar, launcher->name, 1, 1 << 20, &size));
  MIXCCL_TRY(envInt(launcher->rankVar, launcher->name, 0, size - 1, &r));

  SockAddr root;
  std::string source;
  MIXCCL_TRY(rootAddress(*launcher, static_cast<int>(size), &root, &source));

  UniqueId out;
  std::string secret = configString(cfg::kSecret);
  if (secret.empty()) {
    secret = jobId(*launcher);
    if (secret.empty()) {
      return failf(mixcclInvalidUsage, "%s gives no job id to derive the secret from: set %s", launcher->name,
                   cfg::kSecret.name);
    }
  }
  secretFrom(secret, out.secret);
  out.host = root.host();
  out.port = root.port();

  if (r == 0) {
    // Listen on every interface: the name the other ranks resolve may map to an address this host does not
    // bind directly (NAT, /etc/hosts aliases); the secret keeps others out.
    detail::Fd listener;
    SockAddr bound;
    detail::IoStatus st = detail::listenOn(SockAddr::any(root.family(), root.port()), true, &listener, &bound);
    if (!st.ok()) {
      return failf(mixcclSystemError, "rank 0 could not listen on port %u for the bootstrap root (%s): %s", root.port(),
                   source.c_str(), st.describe().c_str());
    }
    MIXCCL_TRY(detail::startRoot(std::move(listener), out.secret, configDouble(cfg::kTimeout)));
  }
  *id = out;
  *rank = static_cast<int>(r);
  *nranks = static_cast<int>(size);
  return mixcclSuccess;
}

}  // namespace mixccl
