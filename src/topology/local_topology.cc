#include "topology/local_topology.h"

namespace mixccl {

const char* gpuVendorName(GpuVendor v) { return v == GpuVendor::kNvidia ? "NVIDIA" : "AMD"; }

bool pciFunctionIsGpu(uint16_t vendorId, uint16_t classId, GpuVendor* vendor) {
  constexpr unsigned kBaseDisplay = 0x03;      // VGA, XGA, 3D and other display controllers
  constexpr unsigned kBaseAccelerator = 0x12;  // processing accelerators (e.g. AMD Instinct MI300)
  unsigned base = classId >> 8;
  if (base != kBaseDisplay && base != kBaseAccelerator) return false;
  if (vendorId == kPciVendorNvidia) {
    *vendor = GpuVendor::kNvidia;
    return true;
  }
  if (vendorId == kPciVendorAmd) {
    *vendor = GpuVendor::kAmd;
    return true;
  }
  return false;
}

PciDistance LocalTopology::gpuNicDistance(int gpu, int nic) const { return pciDistance(gpus[gpu].pci, nics[nic].pci); }

int LocalTopology::closestNic(int gpu) const {
  int best = -1;
  PciDistance bestDistance = PciDistance::kCrossPackage;
  for (int n = 0; n < static_cast<int>(nics.size()); ++n) {
    PciDistance d = gpuNicDistance(gpu, n);
    bool better = best < 0 || d < bestDistance || (d == bestDistance && nics[n].rdma && !nics[best].rdma);
    if (better) {
      best = n;
      bestDistance = d;
    }
  }
  return best;
}

int LocalTopology::gpuByBusId(const std::string& busId) const {
  std::string wanted = normalizePciBusId(busId);
  if (wanted.empty()) return -1;
  for (int g = 0; g < static_cast<int>(gpus.size()); ++g) {
    if (gpus[g].pci.busId == wanted) return g;
  }
  return -1;
}

void LocalTopology::assignRuntimeIndices(GpuVendor vendor, const std::vector<std::string>& busIds) {
  for (Gpu& g : gpus) {
    if (g.vendor == vendor) g.runtimeIndex = -1;
  }
  for (int i = 0; i < static_cast<int>(busIds.size()); ++i) {
    int g = gpuByBusId(busIds[i]);
    if (g >= 0 && gpus[g].vendor == vendor) gpus[g].runtimeIndex = i;
  }
}

}  // namespace mixccl
