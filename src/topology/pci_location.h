#pragma once
// Where a device sits in the PCIe hierarchy of its host, and how far apart two such places are.
//
// Contract: plain data, filled by a topology source (hwloc, an XML fixture, or a test by hand); the functions
// are pure and thread-safe. Bridge ids only need to be equal for the same bridge and different otherwise.
#include <cstdint>
#include <string>
#include <vector>

namespace mixccl {

// The PCIe path between two devices, from closest to farthest (the classes NCCL calls PIX, PXB, PHB, NODE and
// SYS, plus one for two NUMA nodes of one socket).
enum class PciDistance : uint8_t {
  kSameSwitch = 0,  // below one PCIe switch (at most one downstream port on each side of the shared bridge)
  kCrossSwitch,     // through several switches that share an upstream bridge, without the host bridge
  kHostBridge,      // through one host bridge (root complex), not through the CPU interconnect
  kSameNuma,        // through two host bridges of one NUMA node
  kSamePackage,     // through two NUMA nodes of one package (socket)
  kCrossPackage,    // through the link between sockets, or a locality that is unknown
};
constexpr int kNumPciDistances = 6;

// "same-switch", "cross-switch", "host-bridge", "same-numa", "same-package", "cross-package".
const char* pciDistanceName(PciDistance d);

struct PciLocation {
  std::string busId;               // "0000:17:00.0" (normalised, see normalizePciBusId); "" when not on PCI
  std::vector<uint64_t> bridges;   // the bridges above the device, host bridge first, its parent bridge last
  int numa = -1;                   // index into LocalTopology::numaNodes of the device's locality; -1 unknown
  int package = -1;                // index into LocalTopology::packages; -1 unknown or several
};

// The class of the path between the devices at `a` and `b`. Without a shared host bridge the answer comes from
// the NUMA node and package; a locality of -1 counts as the farthest class.
PciDistance pciDistance(const PciLocation& a, const PciLocation& b);

// "dddd:bb:dd.f" in lower-case hex from any of "bb:dd.f", "dddd:bb:dd.f", "dddddddd:bb:dd.f" (either case, as
// hwloc, CUDA, HIP and sysfs write them); "" when `text` is not a PCI bus id.
std::string normalizePciBusId(const std::string& text);

}  // namespace mixccl
