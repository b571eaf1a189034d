#include "topology/topology_text.h"

#include <cstdarg>
#include <cstdio>

#include "topology/topology_loader.h"

namespace mixccl {
namespace {

void appendf(std::string* s, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string* s, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  *s += buf;
}

// "NUMA 1" with the OS number of node index `numa`, or "NUMA ?".
std::string numaLabel(const LocalTopology& t, int numa) {
  if (numa < 0 || numa >= static_cast<int>(t.numaNodes.size()) || t.numaNodes[numa].os < 0) return "NUMA ?";
  return "NUMA " + std::to_string(t.numaNodes[numa].os);
}

std::string orUnknown(const std::string& s) { return s.empty() ? "-" : s; }

void renderCpus(const LocalTopology& t, std::string* s) {
  appendf(s, "CPUs: %zu packages, %zu NUMA nodes, %zu cores, %d hardware threads\n", t.packages.size(),
          t.numaNodes.size(), t.cores.size(), t.numPus);
  for (size_t p = 0; p < t.packages.size(); ++p) {
    appendf(s, "  package %d: %s\n", t.packages[p].os, orUnknown(t.packages[p].cpuModel).c_str());
  }
  for (int n = 0; n < static_cast<int>(t.numaNodes.size()); ++n) {
    const NumaNode& node = t.numaNodes[n];
    int cores = 0;
    for (const CpuCore& c : t.cores) cores += c.numa == n ? 1 : 0;
    std::string pkg = node.package >= 0 ? std::to_string(t.packages[node.package].os) : "?";
    appendf(s, "  %s: package %s, %d cores, %.1f GiB\n", numaLabel(t, n).c_str(), pkg.c_str(), cores,
            static_cast<double>(node.memoryBytes) / (1024.0 * 1024 * 1024));
  }
}

void renderDevices(const LocalTopology& t, std::string* s) {
  appendf(s, "GPUs: %zu\n", t.gpus.size());
  for (size_t g = 0; g < t.gpus.size(); ++g) {
    const Gpu& gpu = t.gpus[g];
    std::string index = gpu.runtimeIndex >= 0 ? std::to_string(gpu.runtimeIndex) : "-";
    appendf(s, "  gpu%-3zu %-6s %-28s %s  %-7s runtime index %s\n", g, gpuVendorName(gpu.vendor),
            orUnknown(gpu.name).c_str(), orUnknown(gpu.pci.busId).c_str(), numaLabel(t, gpu.pci.numa).c_str(),
            index.c_str());
  }
  appendf(s, "NICs: %zu\n", t.nics.size());
  for (size_t n = 0; n < t.nics.size(); ++n) {
    const Nic& nic = t.nics[n];
    std::string what = nic.name;
    if (!nic.netdev.empty() && nic.netdev != nic.name) what += " (" + nic.netdev + ")";
    appendf(s, "  nic%-3zu %-20s %-5s %-12s %s\n", n, what.c_str(), nic.rdma ? "RDMA" : "-",
            orUnknown(nic.pci.busId).c_str(), numaLabel(t, nic.pci.numa).c_str());
  }
}

void renderDistances(const LocalTopology& t, std::string* s) {
  if (t.gpus.empty() || t.nics.empty()) return;
  // Cells are padded to one width, the last one of a line is not (no trailing blanks).
  const int last = static_cast<int>(t.nics.size()) - 1;
  appendf(s, "GPU-NIC PCIe distance (* = the GPU's closest NIC):\n  %-7s", "");
  for (int n = 0; n <= last; ++n) appendf(s, " %-*s", n < last ? 14 : 0, t.nics[n].name.c_str());
  *s += "\n";
  for (int g = 0; g < static_cast<int>(t.gpus.size()); ++g) {
    appendf(s, "  gpu%-4d", g);
    int closest = t.closestNic(g);
    for (int n = 0; n < static_cast<int>(t.nics.size()); ++n) {
      std::string cell = std::string(pciDistanceName(t.gpuNicDistance(g, n))) + (n == closest ? "*" : "");
      appendf(s, " %-*s", n < last ? 14 : 0, cell.c_str());
    }
    *s += "\n";
  }
}

}  // namespace

std::string renderLocalTopology(const LocalTopology& t) {
  std::string s = "source: " + t.source + "\n";
  renderCpus(t, &s);
  renderDevices(t, &s);
  renderDistances(t, &s);
  return s;
}

std::string localTopologySection() {
  LocalTopology t;
  if (loadLocalTopology(&t) != mixcclSuccess) return std::string("unavailable: ") + lastErrorMessage() + "\n";
  return renderLocalTopology(t);
}

}  // namespace mixccl
