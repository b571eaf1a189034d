#include "device/device_backend.h"

namespace mixccl {

const char* memoryTypeName(MemoryType type) {
  switch (type) {
    case MemoryType::kHost: return "host";
    case MemoryType::kCuda: return "cuda";
    case MemoryType::kHip: return "hip";
  }
  return "invalid";
}

}  // namespace mixccl
