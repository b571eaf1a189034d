#include "transports/ofi/ofi_endpoint.h"

#include <poll.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_errno.h>
#include <time.h>

#include <chrono>

#include "core/log.h"
#include "transports/ofi/ofi_provider.h"

namespace mixccl::detail {
namespace {

constexpr size_t kCqDepth = 1024;          // entries; the transport has at most ~10 operations per channel posted
constexpr long kCqBatch = 16;              // entries read per fi_cq_read
constexpr uint64_t kPollNapNs = 50'000;    // nap between polls of a CQ without a wait object

template <typename F>
void closeFid(F*& f) {
  if (f != nullptr) fi_close(&f->fid);
  f = nullptr;
}

uint64_t nowNs() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

}  // namespace

Result OfiEndpoint::open(fi_info* info, std::unique_ptr<OfiEndpoint>* out) {
  std::unique_ptr<OfiEndpoint> e(new OfiEndpoint(info));
  MIXCCL_TRY(e->openAll());
  *out = std::move(e);
  return mixcclSuccess;
}

Result OfiEndpoint::openAll() {
  const char* prov = info_->fabric_attr->prov_name;
  int ret = fi_fabric(info_->fabric_attr, &fabric_, nullptr);
  if (ret != 0) return failf(mixcclSystemError, "ofi: fi_fabric(%s) failed: %s", prov, ofiErrorText(ret).c_str());
  ret = fi_domain(fabric_, info_, &domain_, nullptr);
  if (ret != 0) return failf(mixcclSystemError, "ofi: fi_domain(%s) failed: %s", prov, ofiErrorText(ret).c_str());

  fi_cq_attr cqAttr{};
  cqAttr.size = kCqDepth;
  cqAttr.format = FI_CQ_FORMAT_TAGGED;
  cqAttr.wait_obj = FI_WAIT_FD;
  ret = fi_cq_open(domain_, &cqAttr, &cq_, nullptr);
  if (ret == 0 && fi_control(&cq_->fid, FI_GETWAIT, &waitFd_) != 0) waitFd_ = -1;
  if (ret != 0) {
    cq_ = nullptr;
    cqAttr.wait_obj = FI_WAIT_NONE;  // the provider has no FD to sleep on: poll with naps
    ret = fi_cq_open(domain_, &cqAttr, &cq_, nullptr);
  }
  if (ret != 0) return failf(mixcclSystemError, "ofi: fi_cq_open(%s) failed: %s", prov, ofiErrorText(ret).c_str());

  fi_av_attr avAttr{};
  avAttr.type = FI_AV_TABLE;
  ret = fi_av_open(domain_, &avAttr, &av_, nullptr);
  if (ret != 0) return failf(mixcclSystemError, "ofi: fi_av_open(%s) failed: %s", prov, ofiErrorText(ret).c_str());
  ret = fi_endpoint(domain_, info_, &ep_, nullptr);
  if (ret != 0) return failf(mixcclSystemError, "ofi: fi_endpoint(%s) failed: %s", prov, ofiErrorText(ret).c_str());
  ret = fi_ep_bind(ep_, &cq_->fid, FI_TRANSMIT | FI_RECV);
  if (ret == 0) ret = fi_ep_bind(ep_, &av_->fid, 0);
  if (ret == 0) ret = fi_enable(ep_);
  if (ret != 0) {
    return failf(mixcclSystemError, "ofi: binding/enabling the %s endpoint failed: %s", prov,
                 ofiErrorText(ret).c_str());
  }
  MIXCCL_LOG(kInfo, "ofi: provider %s, fabric %s, domain %s, CQ wait %s", prov, info_->fabric_attr->name,
             info_->domain_attr->name, waitFd_ >= 0 ? "fd" : "none (polling)");
  return mixcclSuccess;
}

OfiEndpoint::~OfiEndpoint() {
  closeFid(ep_);
  closeFid(av_);
  closeFid(cq_);
  closeFid(mr_);
  closeFid(domain_);
  closeFid(fabric_);
  fi_freeinfo(info_);
}

Result OfiEndpoint::registerMemory(void* base, size_t bytes) {
  int ret = fi_mr_reg(domain_, base, bytes, FI_SEND | FI_RECV, 0, 0, 0, &mr_, nullptr);
  if (ret == 0 && (info_->domain_attr->mr_mode & FI_MR_ENDPOINT)) {
    ret = fi_mr_bind(mr_, &ep_->fid, 0);
    if (ret == 0) ret = fi_mr_enable(mr_);
  }
  if (ret != 0) {
    return failf(mixcclSystemError, "ofi: registering %zu bytes of staging memory failed: %s", bytes,
                 ofiErrorText(ret).c_str());
  }
  desc_ = fi_mr_desc(mr_);
  return mixcclSuccess;
}

Result OfiEndpoint::localName(std::vector<uint8_t>* out) const {
  size_t len = 0;
  int ret = fi_getname(&ep_->fid, nullptr, &len);  // asks for the size
  if (ret != 0 && ret != -FI_ETOOSMALL) {
    return failf(mixcclSystemError, "ofi: fi_getname failed: %s", ofiErrorText(ret).c_str());
  }
  out->assign(len, 0);
  ret = fi_getname(&ep_->fid, out->data(), &len);
  if (ret != 0) return failf(mixcclSystemError, "ofi: fi_getname failed: %s", ofiErrorText(ret).c_str());
  out->resize(len);
  return mixcclSuccess;
}

Result OfiEndpoint::insertPeer(const uint8_t* name, size_t bytes, int peerRank, fi_addr_t* out) {
  (void)bytes;  // the provider knows its address format; the length was checked by the exchange
  int ret = fi_av_insert(av_, name, 1, out, 0, nullptr);
  if (ret != 1) {
    return failf(mixcclSystemError, "ofi: fi_av_insert of rank %d's address failed: %s", peerRank,
                 ofiErrorText(ret < 0 ? ret : -FI_EINVAL).c_str());
  }
  return mixcclSuccess;
}

void OfiEndpoint::dispatch(const fi_cq_tagged_entry* entries, long n) {
  for (long i = 0; i < n; ++i) {
    auto* op = static_cast<OfiOp*>(entries[i].op_context);
    ++events_;
    if (op == nullptr) continue;
    op->posted = false;
    op->sink->onCompletion(op, entries[i].len);
  }
}

void OfiEndpoint::readError() {
  fi_cq_err_entry err{};
  if (fi_cq_readerr(cq_, &err, 0) != 1) return;
  ++events_;
  auto* op = static_cast<OfiOp*>(err.op_context);
  if (op == nullptr) return;
  char provText[256] = {};
  const char* detail = fi_cq_strerror(cq_, err.prov_errno, err.err_data, provText, sizeof(provText));
  std::string text = fi_strerror(err.err);
  if (detail != nullptr && detail[0] != '\0') text += std::string(" (") + detail + ")";
  op->posted = false;
  op->sink->onError(op, err.err, text);
}

int OfiEndpoint::progress() {
  int handled = 0;
  fi_cq_tagged_entry entries[kCqBatch];
  for (;;) {
    long n = fi_cq_read(cq_, entries, kCqBatch);
    if (n > 0) {
      dispatch(entries, n);
      handled += int(n);
    } else if (n == -FI_EAVAIL) {
      readError();
      ++handled;
    } else {
      return handled;  // -FI_EAGAIN: empty (another code: the next call reports it through an operation)
    }
  }
}

void OfiEndpoint::wait(uint32_t token, uint64_t timeoutNs, uint64_t spinNs) {
  const uint64_t start = nowNs();
  const uint64_t deadline = start + timeoutNs;
  progress();
  while (events_ == token) {
    uint64_t now = nowNs();
    if (now >= deadline) return;
    if (now - start < spinNs) {
      progress();
      continue;
    }
    uint64_t left = deadline - now;
    if (waitFd_ >= 0) {
      fid* fids[1] = {&cq_->fid};
      if (fi_trywait(fabric_, fids, 1) == FI_SUCCESS) {
        pollfd pfd{waitFd_, POLLIN, 0};
        timespec ts{time_t(left / 1'000'000'000), long(left % 1'000'000'000)};
        ppoll(&pfd, 1, &ts, nullptr);
      }
    } else {
      uint64_t nap = left < kPollNapNs ? left : kPollNapNs;
      timespec ts{0, long(nap)};
      nanosleep(&ts, nullptr);
    }
    progress();
  }
}

}  // namespace mixccl::detail
