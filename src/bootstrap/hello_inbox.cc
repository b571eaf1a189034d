#include "bootstrap/hello_inbox.h"

namespace mixccl::detail {

void HelloInbox::addPollFds(std::vector<pollfd>* fds) const {
  fds->push_back({listenFd_, POLLIN, 0});
  for (const Halfway& h : halfway_) fds->push_back({h.fd.get(), POLLIN, 0});
}

void HelloInbox::progress(std::vector<Arrival>* out) {
  for (;;) {
    Fd fd;
    if (!acceptNow(listenFd_, &fd).ok()) break;  // none pending (or EMFILE & co: retried on the next call)
    if (halfway_.size() >= kMaxHalfway) halfway_.erase(halfway_.begin());
    halfway_.push_back({std::move(fd), std::vector<uint8_t>(helloBytes_), 0});
  }
  for (size_t i = 0; i < halfway_.size();) {
    Halfway& h = halfway_[i];
    size_t got = 0;
    IoStatus st = recvNow(h.fd.get(), h.buf.data() + h.got, helloBytes_ - h.got, &got);
    h.got += got;
    if (!st.ok() || h.got == helloBytes_) {
      if (st.ok()) out->push_back({std::move(h.fd), std::move(h.buf)});
      halfway_.erase(halfway_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

}  // namespace mixccl::detail
