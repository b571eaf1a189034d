#include "transports/ofi/ofi_channels.h"

#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#include "transports/ofi/ofi_provider.h"

namespace mixccl::detail {

OfiSendChannel::OfiSendChannel(const OfiChannelEnv* env, OfiPeer* peer, int lane, char* staging)
    : env_(env),
      peer_(peer),
      lane_(lane),
      staging_(staging),
      ops_(size_t(env->slots)),
      state_(size_t(env->slots), SlotState::kFree),
      bytes_(size_t(env->slots), 0),
      seq_(size_t(env->slots), 0) {
  for (int s = 0; s < env->slots; ++s) {
    ops_[size_t(s)].sink = this;
    ops_[size_t(s)].slot = s;
  }
}

void* OfiSendChannel::acquire() {
  const size_t s = size_t(head_ % uint64_t(env_->slots));
  if (state_[s] != SlotState::kFree) env_->progress();
  if (state_[s] != SlotState::kFree) return nullptr;
  return staging_ + s * env_->slotBytes;
}

void OfiSendChannel::post(size_t bytes) {
  const size_t s = size_t(head_ % uint64_t(env_->slots));
  bytes_[s] = bytes;
  seq_[s] = head_++;
  state_[s] = SlotState::kQueued;
  queue_.push_back(int(s));
  flush();
}

void OfiSendChannel::flush() {
  while (!queue_.empty() && peer_->error.empty()) {
    const size_t s = size_t(queue_.front());
    OfiOp& op = ops_[s];
    ssize_t ret = fi_tsend(env_->ep->ep(), staging_ + s * env_->slotBytes, bytes_[s], env_->ep->desc(), peer_->addr,
                           env_->codec.tag(lane_, env_->ownRank, seq_[s]), &op.fi);
    if (ret == -FI_EAGAIN) return;  // retried on the next progress call
    if (ret != 0) {
      peer_->setError("fi_tsend to rank " + std::to_string(peer_->rank) + " failed: " + ofiErrorText(ret));
      return;
    }
    op.posted = true;
    state_[s] = SlotState::kInFlight;
    queue_.pop_front();
  }
}

void OfiSendChannel::onCompletion(OfiOp* op, size_t) { state_[size_t(op->slot)] = SlotState::kFree; }

void OfiSendChannel::onError(OfiOp* op, int err, const std::string& text) {
  state_[size_t(op->slot)] = SlotState::kFree;
  if (err != FI_ECANCELED) {
    peer_->setError("a send to rank " + std::to_string(peer_->rank) + " on lane " + std::to_string(lane_) +
                    " failed: " + text);
  }
}

int OfiSendChannel::inFlight() const {
  int n = 0;
  for (const OfiOp& op : ops_) n += op.posted;
  return n;
}

OfiRecvChannel::OfiRecvChannel(const OfiChannelEnv* env, OfiPeer* peer, int lane, char* staging)
    : env_(env),
      peer_(peer),
      lane_(lane),
      staging_(staging),
      ops_(size_t(env->slots)),
      state_(size_t(env->slots), SlotState::kQueued),
      len_(size_t(env->slots), 0),
      seq_(size_t(env->slots), 0) {
  for (int s = 0; s < env->slots; ++s) {
    ops_[size_t(s)].sink = this;
    ops_[size_t(s)].slot = s;
    seq_[size_t(s)] = uint64_t(s);
    queue_.push_back(s);
  }
}

Result OfiRecvChannel::start() {
  // A provider short of resources right after setup: progress and retry a bounded number of times.
  for (int attempt = 0; attempt < 100000 && !queue_.empty() && peer_->error.empty(); ++attempt) {
    flush();
    if (!queue_.empty()) env_->ep->progress();
  }
  if (!peer_->error.empty() || !queue_.empty()) {
    return failf(mixcclSystemError, "ofi: rank %d could not post its receives from rank %d: %s", env_->ownRank,
                 peer_->rank, peer_->error.empty() ? "the provider kept answering EAGAIN" : peer_->error.c_str());
  }
  return mixcclSuccess;
}

const void* OfiRecvChannel::peek(size_t* bytes) {
  const size_t s = size_t(tail_ % uint64_t(env_->slots));
  if (state_[s] != SlotState::kDone) env_->progress();
  if (state_[s] != SlotState::kDone) return nullptr;
  *bytes = len_[s];
  return staging_ + s * env_->slotBytes;
}

void OfiRecvChannel::release() {
  const size_t s = size_t(tail_ % uint64_t(env_->slots));
  seq_[s] = tail_ + uint64_t(env_->slots);
  ++tail_;
  state_[s] = SlotState::kQueued;
  queue_.push_back(int(s));
  flush();
}

void OfiRecvChannel::flush() {
  while (!queue_.empty() && peer_->error.empty()) {
    const size_t s = size_t(queue_.front());
    OfiOp& op = ops_[s];
    ssize_t ret = fi_trecv(env_->ep->ep(), staging_ + s * env_->slotBytes, env_->slotBytes, env_->ep->desc(),
                           peer_->srcAddr, env_->codec.tag(lane_, peer_->rank, seq_[s]), 0, &op.fi);
    if (ret == -FI_EAGAIN) return;
    if (ret != 0) {
      peer_->setError("fi_trecv from rank " + std::to_string(peer_->rank) + " failed: " + ofiErrorText(ret));
      return;
    }
    op.posted = true;
    state_[s] = SlotState::kPosted;
    queue_.pop_front();
  }
}

void OfiRecvChannel::onCompletion(OfiOp* op, size_t len) {
  state_[size_t(op->slot)] = SlotState::kDone;
  len_[size_t(op->slot)] = len;
}

void OfiRecvChannel::onError(OfiOp* op, int err, const std::string& text) {
  state_[size_t(op->slot)] = SlotState::kIdle;
  if (err != FI_ECANCELED) {
    peer_->setError("a receive from rank " + std::to_string(peer_->rank) + " on lane " + std::to_string(lane_) +
                    " failed: " + text);
  }
}

void OfiRecvChannel::cancelAll() {
  queue_.clear();
  for (OfiOp& op : ops_) {
    if (op.posted) fi_cancel(&env_->ep->ep()->fid, &op.fi);
  }
}

int OfiRecvChannel::posted() const {
  int n = 0;
  for (const OfiOp& op : ops_) n += op.posted;
  return n;
}

}  // namespace mixccl::detail
