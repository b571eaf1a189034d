#include "transports/ucx/ucx_channels.h"

namespace mixccl::detail {
namespace {

void finish(UcxSlot* slot, ucs_status_t status, size_t length) {
  slot->pending = false;
  slot->request = nullptr;
  slot->status = status;
  slot->length = length;
  if (status != UCS_OK && status != UCS_ERR_CANCELED) {
    slot->peer->fail(status);
  } else {
    slot->peer->worker->bumpEvents();
  }
}

void sendDone(void* request, ucs_status_t status, void* user) {
  finish(static_cast<UcxSlot*>(user), status, 0);
  ucp_request_free(request);
}

void recvDone(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info, void* user) {
  finish(static_cast<UcxSlot*>(user), status, status == UCS_OK ? info->length : 0);
  ucp_request_free(request);
}

// Request parameters shared by sends and receives: completion through `slot`'s callback, registered memory.
ucp_request_param_t requestParams(UcxSlot* slot, ucp_mem_h memh, uint32_t extraFlags) {
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | extraFlags;
  p.user_data = slot;
  if (memh != nullptr) {
    p.op_attr_mask |= UCP_OP_ATTR_FIELD_MEMH;
    p.memh = memh;
  }
  return p;
}

}  // namespace

void ucxSend(UcxSlot* slot, size_t bytes, ucp_tag_t tag, ucp_mem_h memh) {
  ucp_request_param_t p = requestParams(slot, memh, slot->peer->eagerSends ? UCP_OP_ATTR_FLAG_FAST_CMPL : 0);
  p.cb.send = sendDone;
  slot->pending = true;
  ucs_status_ptr_t r = ucp_tag_send_nbx(slot->peer->ep, slot->data, bytes, tag, &p);
  if (r == nullptr) {
    finish(slot, UCS_OK, 0);  // completed at once (the buffer is reusable); no callback follows
  } else if (UCS_PTR_IS_ERR(r)) {
    finish(slot, UCS_PTR_STATUS(r), 0);
  } else if (slot->pending) {
    slot->request = r;  // (if the callback already ran, it freed the request)
  }
}

void ucxRecv(ucp_worker_h worker, UcxSlot* slot, size_t capacity, ucp_tag_t tag, ucp_mem_h memh) {
  // NO_IMM_CMPL: the length of a message that was already waiting is not reliably reported by an immediate
  // completion (seen with UCX 1.13 over TCP: 0 bytes), so every receive completes through the callback.
  ucp_request_param_t p = requestParams(slot, memh, UCP_OP_ATTR_FLAG_NO_IMM_CMPL);
  p.cb.recv = recvDone;
  slot->pending = true;
  ucs_status_ptr_t r = ucp_tag_recv_nbx(worker, slot->data, capacity, tag, kFullTagMask, &p);
  if (UCS_PTR_IS_ERR(r)) {
    finish(slot, UCS_PTR_STATUS(r), 0);
  } else if (r != nullptr && slot->pending) {
    slot->request = r;  // (if the callback already ran, it freed the request)
  }
}

void ucxCancel(ucp_worker_h worker, UcxSlot* slot) {
  if (slot->pending && slot->request != nullptr) ucp_request_cancel(worker, slot->request);
}

UcxSendChannel::UcxSendChannel(UcxPeer* peer, int ownRank, int lane, char* memory, size_t slotBytes, int slots)
    : peer_(peer), ownRank_(ownRank), lane_(lane), slots_(size_t(slots)) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].data = memory + i * slotBytes;
    slots_[i].peer = peer;
  }
}

void* UcxSendChannel::acquire() {
  UcxSlot& s = slot(head_);
  if (s.pending) {
    peer_->worker->progress();
    if (s.pending) return nullptr;
  }
  return s.data;
}

void UcxSendChannel::post(size_t bytes) {
  UcxSlot& s = slot(head_);
  ucxSend(&s, bytes, makeTag(lane_, ownRank_, head_), peer_->worker->memh());
  ++head_;
  if (s.pending) peer_->worker->progress();  // start the transfer now rather than at the next wait
}

UcxRecvChannel::UcxRecvChannel(UcxPeer* peer, int lane, char* memory, size_t slotBytes, int slots)
    : peer_(peer), lane_(lane), slotBytes_(slotBytes), slots_(size_t(slots)) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].data = memory + i * slotBytes;
    slots_[i].peer = peer;
  }
}

void UcxRecvChannel::start() {
  for (uint32_t seq = 0; seq < slots_.size(); ++seq) postSeq(seq);
}

void UcxRecvChannel::postSeq(uint32_t seq) {
  ucxRecv(peer_->worker->worker(), &slot(seq), slotBytes_, makeTag(lane_, peer_->rank, seq), peer_->worker->memh());
}

const void* UcxRecvChannel::peek(size_t* bytes) {
  UcxSlot& s = slot(tail_);
  if (s.pending) {
    peer_->worker->progress();
    if (s.pending) return nullptr;
  }
  if (s.status != UCS_OK) return nullptr;  // failed: the peer is marked, checkPeer() reports it
  *bytes = s.length;
  return s.data;
}

void UcxRecvChannel::release() {
  postSeq(tail_ + uint32_t(slots_.size()));
  ++tail_;
}

}  // namespace mixccl::detail
