#pragma once
// DeviceScope: a device made current in this library's GPU runtime for a scope (core/device_launch.cc,
// core/fork_stream.cc).
#include "core/status.h"
#include "device/gpu_backend.h"

namespace mixccl {

// Makes `device` (>= 0) current in this library's runtime for a scope and restores the previous one: the streams
// and buffers of a call belong to it, and the user's thread may have another device current here (this runtime
// is not the application's).
class DeviceScope {
 public:
  DeviceScope(GpuBackend* gpu, int device) {
    if (gpu == nullptr || device < 0 || gpu->currentDevice(&previous_) != mixcclSuccess || previous_ == device) return;
    status_ = gpu->setDevice(device);
    if (status_ == mixcclSuccess) gpu_ = gpu;
  }
  // The result of making the device current (logged by the backend where it failed).
  Result status() const { return status_; }
  ~DeviceScope() {
    if (gpu_ != nullptr) gpu_->setDevice(previous_);
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  GpuBackend* gpu_ = nullptr;  // set when the device was changed
  int previous_ = -1;
  Result status_ = mixcclSuccess;
};

}  // namespace mixccl
