#include "transports/ucx/ucx_endpoints.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "topology/host_id.h"

namespace mixccl::detail {
namespace {

void endpointError(void* arg, ucp_ep_h /*ep*/, ucs_status_t status) { static_cast<UcxPeer*>(arg)->fail(status); }

}  // namespace

Result exchangeAddresses(Bootstrap& boot, const UcxWorker* worker, std::vector<UcxRankRecord>* records,
                         std::vector<std::vector<char>>* addresses) {
  std::vector<char> own;
  Result local = mixcclSuccess;
  if (worker != nullptr) local = worker->address(&own);  // on failure: publish nothing, fail after the exchange

  UcxRankRecord mine;
  const HostIdentity& host = localHostIdentity();
  mine.addressBytes = local == mixcclSuccess ? uint32_t(own.size()) : 0;
  mine.pid = int32_t(getpid());
  mine.hostHash = host.hash;
  strncpy(mine.host, host.hostname.c_str(), sizeof(mine.host) - 1);
  records->assign(size_t(boot.nranks()), UcxRankRecord{});
  MIXCCL_TRY(boot.allGather(&mine, records->data(), sizeof(UcxRankRecord)));

  size_t longest = 1;
  for (const UcxRankRecord& r : *records) longest = std::max<size_t>(longest, r.addressBytes);
  std::vector<char> padded(longest, 0), all(longest * size_t(boot.nranks()));
  if (mine.addressBytes > 0) memcpy(padded.data(), own.data(), own.size());
  MIXCCL_TRY(boot.allGather(padded.data(), all.data(), longest));
  addresses->assign(size_t(boot.nranks()), {});
  for (size_t r = 0; r < records->size(); ++r) {
    const char* p = all.data() + r * longest;
    (*addresses)[r].assign(p, p + (*records)[r].addressBytes);
  }
  return local;
}

Result createEndpoint(UcxPeer* peer, const std::vector<char>& address, int ownRank, bool* peerErrorMode) {
  ucp_ep_params_t ep{};
  ep.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                  UCP_EP_PARAM_FIELD_ERR_HANDLER;
  ep.address = reinterpret_cast<const ucp_address_t*>(address.data());
  ep.err_mode = *peerErrorMode ? UCP_ERR_HANDLING_MODE_PEER : UCP_ERR_HANDLING_MODE_NONE;
  ep.err_handler.cb = endpointError;
  ep.err_handler.arg = peer;
  ucs_status_t st = ucp_ep_create(peer->worker->worker(), &ep, &peer->ep);
  if (st == UCS_ERR_UNREACHABLE && *peerErrorMode) {
    // UCX 1.13's shared-memory transports cannot report peer failures (UCX logs "no peer failure handler"):
    // connect without, and rely on the pid watch of same-host peers (UcxTransport::checkPeer).
    *peerErrorMode = false;
    ep.err_mode = UCP_ERR_HANDLING_MODE_NONE;
    st = ucp_ep_create(peer->worker->worker(), &ep, &peer->ep);
  }
  if (st != UCS_OK) {
    peer->ep = nullptr;
    return failf(mixcclSystemError, "ucx: rank %d: ucp_ep_create to rank %d failed: %s", ownRank, peer->rank,
                 ucs_status_string(st));
  }
  return mixcclSuccess;
}

std::vector<std::string> endpointTransports(ucp_ep_h ep) {
  char* text = nullptr;
  size_t size = 0;
  FILE* f = open_memstream(&text, &size);
  if (f == nullptr) return {};
  ucp_ep_print_info(ep, f);
  fclose(f);
  // Lines look like "#   lane[0]:  0:tcp/lo.0 md[0]  -> ...": keep the "tcp/lo.0" of each lane.
  std::vector<std::string> out;
  for (const char* p = text; p != nullptr && (p = strstr(p, "lane[")) != nullptr; ++p) {
    const char* colon = strstr(p, "]:");
    if (colon == nullptr) break;
    const char* q = colon + 2;
    while (*q == ' ') ++q;
    while (*q >= '0' && *q <= '9') ++q;
    if (*q == ':') ++q;
    const char* end = q;
    while (*end != '\0' && *end != ' ' && *end != '\n') ++end;
    std::string tl(q, end);
    if (!tl.empty() && std::find(out.begin(), out.end(), tl) == out.end()) out.push_back(tl);
  }
  free(text);
  return out;
}

std::string describeEndpoint(ucp_ep_h ep) {
  std::string out;
  for (const std::string& tl : endpointTransports(ep)) out += (out.empty() ? "" : " ") + tl;
  return out.empty() ? "?" : out;
}

bool endpointIsTcpOnly(ucp_ep_h ep) {
  std::vector<std::string> tls = endpointTransports(ep);
  auto isTcp = [](const std::string& tl) { return tl.rfind("tcp/", 0) == 0; };
  return !tls.empty() && std::all_of(tls.begin(), tls.end(), isTcp);
}

void closeEndpoints(UcxWorker& worker, std::vector<UcxPeer>& peers, double timeoutSec) {
  std::vector<void*> requests;
  for (UcxPeer& p : peers) {
    if (p.ep == nullptr) continue;
    ucp_request_param_t param{};
    param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    param.flags = p.failure != UCS_OK ? UCP_EP_CLOSE_FLAG_FORCE : 0;
    ucs_status_ptr_t r = ucp_ep_close_nbx(p.ep, &param);
    if (r != nullptr && !UCS_PTR_IS_ERR(r)) requests.push_back(r);
    p.ep = nullptr;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeoutSec);
  while (!requests.empty()) {
    worker.progress();
    for (size_t i = 0; i < requests.size();) {
      if (ucp_request_check_status(requests[i]) != UCS_INPROGRESS) {
        ucp_request_free(requests[i]);
        requests[i] = requests.back();
        requests.pop_back();
      } else {
        ++i;
      }
    }
    if (std::chrono::steady_clock::now() > deadline) break;
  }
  // Still open after the deadline (a peer that stopped answering): released; the worker's destruction ends them.
  for (void* r : requests) ucp_request_free(r);
}

}  // namespace mixccl::detail
