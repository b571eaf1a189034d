#include "transports/ucx/ucx_worker.h"

#include <poll.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/log.h"

namespace mixccl::detail {

Result UcxWorker::create(int rank, size_t memoryBytes, size_t largestMessage, std::unique_ptr<UcxWorker>* out) {
  std::unique_ptr<UcxWorker> w(new UcxWorker());
  w->rank_ = rank;

  ucp_config_t* config = nullptr;
  ucs_status_t st = ucp_config_read(nullptr, nullptr, &config);
  if (st != UCS_OK) {
    return failf(mixcclSystemError, "ucx: rank %d: ucp_config_read failed: %s (check the UCX_* environment)", rank,
                 ucs_status_string(st));
  }
  // UCP's own registration cache installs UCX's memory hooks (libucm) at ucp_init, which hung there now and then
  // on a rwlock in forked ranks (UCX 1.13, seen ~1 run in 10 on the dev VM). The slots are registered once with
  // ucp_mem_map and passed as memh, so the cache buys nothing here: off unless the user set UCX_RCACHE_ENABLE.
  if (getenv("UCX_RCACHE_ENABLE") == nullptr) ucp_config_modify(config, "RCACHE_ENABLE", "n");
  // Peers over TCP get their slots as eager sends with fast completion (ucx_channels.h): eager up to the slot size
  // (UCX's default switches those sends to rendezvous at 256 KiB), in 64 KiB TCP segments (UCX's receive segment
  // size, which a transmit segment may not exceed; the default 8 KiB costs a system call per 8 KiB: 5.6x the sendto
  // calls per all-reduce, and 256/256 KiB measured no better than 64 KiB). Transport settings are
  // modified without their component prefix (ucp_config_modify("TCP_TX_SEG_SIZE") is silently ignored by UCX
  // 1.13); only tcp has a TX_SEG_SIZE. Both settings only touch those sends and the tcp transport, and the user's
  // UCX_* values win.
  if (getenv("UCX_RNDV_SEND_NBR_THRESH") == nullptr) {
    ucp_config_modify(config, "RNDV_SEND_NBR_THRESH", std::to_string(largestMessage + 1).c_str());
  }
  if (getenv("UCX_TCP_TX_SEG_SIZE") == nullptr) ucp_config_modify(config, "TX_SEG_SIZE", "64K");
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_ESTIMATED_NUM_EPS | UCP_PARAM_FIELD_NAME;
  params.features = UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP;
  params.estimated_num_eps = 8;
  params.name = "mixccl";
  st = ucp_init(&params, config, &w->context_);
  ucp_config_release(config);
  if (st != UCS_OK) {
    w->context_ = nullptr;
    return failf(mixcclSystemError, "ucx: rank %d: ucp_init failed: %s (UCX_TLS / UCX_NET_DEVICES select no usable "
                 "transport?)", rank, ucs_status_string(st));
  }

  ucp_worker_params_t wp{};
  wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  wp.thread_mode = UCS_THREAD_MODE_SINGLE;
  st = ucp_worker_create(w->context_, &wp, &w->worker_);
  if (st != UCS_OK) {
    w->worker_ = nullptr;
    return failf(mixcclSystemError, "ucx: rank %d: ucp_worker_create failed: %s", rank, ucs_status_string(st));
  }
  if (ucp_worker_get_efd(w->worker_, &w->eventFd_) != UCS_OK) {
    w->eventFd_ = -1;
    MIXCCL_LOG(kWarn, "ucx: rank %d: the UCX worker has no event fd; idle ranks will nap instead of sleeping", rank);
  }

  ucp_mem_map_params_t mp{};
  mp.field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH | UCP_MEM_MAP_PARAM_FIELD_FLAGS;
  mp.address = nullptr;
  mp.length = memoryBytes;
  mp.flags = UCP_MEM_MAP_ALLOCATE;
  st = ucp_mem_map(w->context_, &mp, &w->memh_);
  if (st != UCS_OK) {
    w->memh_ = nullptr;
    return failf(mixcclSystemError, "ucx: rank %d: ucp_mem_map of %zu bytes failed: %s", rank, memoryBytes,
                 ucs_status_string(st));
  }
  ucp_mem_attr_t attr{};
  attr.field_mask = UCP_MEM_ATTR_FIELD_ADDRESS;
  st = ucp_mem_query(w->memh_, &attr);
  if (st != UCS_OK || attr.address == nullptr) {
    return failf(mixcclSystemError, "ucx: rank %d: ucp_mem_query failed: %s", rank, ucs_status_string(st));
  }
  w->memory_ = static_cast<char*>(attr.address);
  w->memoryBytes_ = memoryBytes;
  *out = std::move(w);
  return mixcclSuccess;
}

UcxWorker::~UcxWorker() {
  if (worker_ != nullptr) ucp_worker_destroy(worker_);
  if (memh_ != nullptr) ucp_mem_unmap(context_, memh_);
  if (context_ != nullptr) ucp_cleanup(context_);
}

Result UcxWorker::address(std::vector<char>* out) const {
  ucp_address_t* addr = nullptr;
  size_t len = 0;
  ucs_status_t st = ucp_worker_get_address(worker_, &addr, &len);
  if (st != UCS_OK) {
    return failf(mixcclSystemError, "ucx: rank %d: ucp_worker_get_address failed: %s", rank_,
                 ucs_status_string(st));
  }
  const char* bytes = reinterpret_cast<const char*>(addr);
  out->assign(bytes, bytes + len);
  ucp_worker_release_address(worker_, addr);
  return mixcclSuccess;
}

void UcxWorker::sleep(uint64_t timeoutNs) {
  // ucp_worker_arm must see a drained worker; UCS_ERR_BUSY means events are pending, so progress instead.
  while (progress() != 0) {
  }
  ucs_status_t st = eventFd_ >= 0 ? ucp_worker_arm(worker_) : UCS_ERR_UNSUPPORTED;
  if (st == UCS_ERR_BUSY) {
    progress();
    return;
  }
  if (st != UCS_OK) {
    // No wake-up support: a short nap keeps an idle rank from burning its core.
    timespec ts{0, long(std::min<uint64_t>(timeoutNs, 50'000))};
    nanosleep(&ts, nullptr);
  } else {
    pollfd pfd{eventFd_, POLLIN, 0};
    timespec ts{time_t(timeoutNs / 1'000'000'000), long(timeoutNs % 1'000'000'000)};
    ppoll(&pfd, 1, &ts, nullptr);
  }
  progress();
}

}  // namespace mixccl::detail
