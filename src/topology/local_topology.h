#pragma once
// What this node is made of: sockets, NUMA nodes, cores, GPUs and NICs, and where the GPUs and NICs sit on PCIe.
//
// Contract: plain data, filled by a source (topology_loader.h: the live machine through hwloc, or an hwloc XML
// file) or by a test; nothing here talks to peers or to a device runtime. The queries are pure and thread-safe
// on a const object. Cross references between the vectors are indices into them (-1 = unknown); "os" fields
// are the numbers the operating system uses (numactl, taskset, sysfs). GPUs and NICs are listed in ascending
// PCI bus id order, so the order is the same for every source of the same machine.
#include <cstdint>
#include <string>
#include <vector>

#include "topology/pci_location.h"

namespace mixccl {

// PCI vendor ids of the GPU vendors mixccl drives.
constexpr uint16_t kPciVendorNvidia = 0x10de;
constexpr uint16_t kPciVendorAmd = 0x1002;

enum class GpuVendor : uint8_t { kNvidia, kAmd };
const char* gpuVendorName(GpuVendor v);  // "NVIDIA", "AMD"

// True and `*vendor` set when a PCI function with this vendor id and class code (base class << 8 | subclass) is
// a GPU: a display controller (base class 0x03) or a processing accelerator (0x12) of NVIDIA or AMD. Their
// audio functions, NVSwitches and other bridges are not GPUs.
bool pciFunctionIsGpu(uint16_t vendorId, uint16_t classId, GpuVendor* vendor);

struct CpuPackage {
  int os = -1;            // socket number
  std::string cpuModel;   // "Intel(R) Xeon(R) Platinum 8480C"; "" when the source does not say
};

struct NumaNode {
  int os = -1;               // NUMA node number
  int package = -1;          // index into packages
  uint64_t memoryBytes = 0;  // memory local to this node
};

struct CpuCore {
  int os = -1;            // core number within its package
  int package = -1;       // index into packages
  int numa = -1;          // index into numaNodes
  std::vector<int> pus;   // the OS numbers of its hardware threads (processing units)
};

struct Gpu {
  GpuVendor vendor = GpuVendor::kNvidia;
  uint16_t pciDeviceId = 0;  // e.g. 0x2330 for an H100 SXM5
  std::string name;          // model name when the source knows it ("NVIDIA H100 80GB HBM3"), else ""
  PciLocation pci;
  // This process's CUDA (NVIDIA) or HIP (AMD) device index of this GPU; -1 when the runtime is not present,
  // does not show this GPU (e.g. CUDA_VISIBLE_DEVICES), or the source does not say.
  int runtimeIndex = -1;
};

struct Nic {
  std::string name;    // the RDMA device name when there is one ("mlx5_0"), else the network interface ("eth0")
  std::string netdev;  // the network interface of this NIC ("ib0", "eth0"), "" when it has none
  bool rdma = false;   // it has an OpenFabrics (verbs) device
  PciLocation pci;
};

struct LocalTopology {
  std::string source;  // where it came from: "live machine (hwloc)" or the XML file's path
  std::vector<CpuPackage> packages;
  std::vector<NumaNode> numaNodes;
  std::vector<CpuCore> cores;
  int numPus = 0;  // hardware threads usable by this process
  std::vector<Gpu> gpus;
  std::vector<Nic> nics;

  // The PCIe path class between gpus[gpu] and nics[nic] (indices must be valid).
  PciDistance gpuNicDistance(int gpu, int nic) const;
  // The NIC to pair with gpus[gpu]: the smallest distance class, then an RDMA NIC before one without RDMA, then
  // the lowest index. -1 when there is no NIC.
  int closestNic(int gpu) const;
  // Index into gpus of the GPU whose (normalised) bus id is `busId`, or -1.
  int gpuByBusId(const std::string& busId) const;
  // Sets runtimeIndex of every GPU of `vendor` from what the runtime reports: busIds[i] is the bus id of runtime
  // device i. GPUs of that vendor that the list does not name get -1; other vendors' GPUs are left as they are.
  void assignRuntimeIndices(GpuVendor vendor, const std::vector<std::string>& busIds);
};

}  // namespace mixccl
