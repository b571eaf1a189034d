#include "topology/hwloc/hwloc_reader.h"

#include <hwloc.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <tuple>

namespace mixccl::detail {
namespace {

// Owns one hwloc topology handle.
class HwlocHandle {
 public:
  HwlocHandle() = default;
  HwlocHandle(const HwlocHandle&) = delete;
  HwlocHandle& operator=(const HwlocHandle&) = delete;
  ~HwlocHandle() {
    if (topo_) hwloc_topology_destroy(topo_);
  }
  // Creates the (empty) topology; false when hwloc could not allocate it.
  bool init() { return hwloc_topology_init(&topo_) == 0; }
  hwloc_topology_t get() const { return topo_; }

 private:
  hwloc_topology_t topo_ = nullptr;
};

int osIndex(hwloc_obj_t obj) { return obj->os_index == HWLOC_UNKNOWN_INDEX ? -1 : static_cast<int>(obj->os_index); }

std::string info(hwloc_obj_t obj, const char* name) {
  const char* value = hwloc_obj_get_info_by_name(obj, name);
  return value ? value : "";
}

// The package `obj` belongs to: a Package ancestor (or itself), else, for an object above the packages such as
// the Machine of a one-socket host, the one package that holds all its CPUs. -1 when none or several.
int packageOf(hwloc_topology_t topo, hwloc_obj_t obj) {
  for (hwloc_obj_t p = obj; p; p = p->parent) {
    if (p->type == HWLOC_OBJ_PACKAGE) return static_cast<int>(p->logical_index);
  }
  if (!obj->cpuset || hwloc_bitmap_iszero(obj->cpuset)) return -1;
  int found = -1;
  int n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
  for (int i = 0; i < n; ++i) {
    hwloc_obj_t pkg = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, static_cast<unsigned>(i));
    if (hwloc_bitmap_isincluded(obj->cpuset, pkg->cpuset)) found = i;
  }
  return found;
}

// The NUMA node local to the (non-I/O) object `obj`: the only node of its nodeset, else the first NUMA node
// attached to its nearest ancestor that has memory (the DRAM node where HBM or CXL memory sits beside it). -1
// when there is none.
int numaOf(hwloc_topology_t topo, hwloc_obj_t obj) {
  if (obj->nodeset && hwloc_bitmap_weight(obj->nodeset) == 1) {
    auto os = static_cast<unsigned>(hwloc_bitmap_first(obj->nodeset));
    hwloc_obj_t node = hwloc_get_numanode_obj_by_os_index(topo, os);
    if (node) return static_cast<int>(node->logical_index);
  }
  for (hwloc_obj_t p = obj; p; p = p->parent) {
    hwloc_obj_t m = p->memory_first_child;
    while (m && m->type != HWLOC_OBJ_NUMANODE) m = m->memory_first_child;  // through memory-side caches
    if (m) return static_cast<int>(m->logical_index);
  }
  return -1;
}

std::string busIdOf(const hwloc_obj_attr_u::hwloc_pcidev_attr_s& pci) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%04x:%02x:%02x.%x", static_cast<unsigned>(pci.domain), pci.bus, pci.dev, pci.func);
  return buf;
}

// Where the I/O object `obj` (a PCI function or an OS device) sits: its PCI function's bus id, the bridges above
// it and the locality of the first non-I/O ancestor.
PciLocation locate(hwloc_topology_t topo, hwloc_obj_t obj) {
  PciLocation loc;
  hwloc_obj_t p = obj;
  if (p->type == HWLOC_OBJ_OS_DEVICE && p->parent && p->parent->type == HWLOC_OBJ_PCI_DEVICE) p = p->parent;
  if (p->type == HWLOC_OBJ_PCI_DEVICE) loc.busId = busIdOf(p->attr->pcidev);
  hwloc_obj_t top = nullptr;
  for (hwloc_obj_t b = p->parent; b && b->type == HWLOC_OBJ_BRIDGE; b = b->parent) {
    loc.bridges.push_back(b->gp_index);
    top = b;
  }
  std::reverse(loc.bridges.begin(), loc.bridges.end());
  if (top && top->attr->bridge.upstream_type != HWLOC_OBJ_BRIDGE_HOST) {
    // No host bridge above (some exported topologies omit it): give this PCI tree a host bridge of its own, so
    // bridges[0] always stands for a root complex. The id cannot collide with a gp_index (high bit set).
    loc.bridges.insert(loc.bridges.begin(), top->gp_index | (uint64_t{1} << 63));
  }
  hwloc_obj_t anchor = hwloc_get_non_io_ancestor_obj(topo, obj);
  if (anchor) {
    loc.numa = numaOf(topo, anchor);
    loc.package = packageOf(topo, anchor);
  }
  return loc;
}

// The runtime index hwloc recorded for a GPU through its CUDA or ROCm SMI backend ("cuda3", "rsmi1"), or -1.
int runtimeIndexFromOsDevices(hwloc_obj_t pcidev, GpuVendor vendor) {
  const char* prefix = vendor == GpuVendor::kNvidia ? "cuda" : "rsmi";
  size_t len = strlen(prefix);
  for (hwloc_obj_t c = pcidev->io_first_child; c; c = c->next_sibling) {
    if (c->type != HWLOC_OBJ_OS_DEVICE || !c->name || strncmp(c->name, prefix, len) != 0) continue;
    const char* digits = c->name + len;
    if (*digits == '\0' || strspn(digits, "0123456789") != strlen(digits)) continue;
    return atoi(digits);
  }
  return -1;
}

std::string gpuName(hwloc_obj_t pcidev) {
  for (hwloc_obj_t c = pcidev->io_first_child; c; c = c->next_sibling) {
    std::string model = c->type == HWLOC_OBJ_OS_DEVICE ? info(c, "GPUModel") : "";
    if (!model.empty()) return model;
  }
  return info(pcidev, "PCIDevice");
}

void readCpus(hwloc_topology_t topo, LocalTopology* t) {
  int n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
  for (int i = 0; i < n; ++i) {
    hwloc_obj_t obj = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, static_cast<unsigned>(i));
    t->packages.push_back({osIndex(obj), info(obj, "CPUModel")});
  }
  n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < n; ++i) {
    hwloc_obj_t obj = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, static_cast<unsigned>(i));
    t->numaNodes.push_back({osIndex(obj), packageOf(topo, obj), obj->attr->numanode.local_memory});
  }
  n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  for (int i = 0; i < n; ++i) {
    hwloc_obj_t obj = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, static_cast<unsigned>(i));
    CpuCore core{osIndex(obj), packageOf(topo, obj), numaOf(topo, obj), {}};
    hwloc_obj_t pu = nullptr;
    while ((pu = hwloc_get_next_obj_inside_cpuset_by_type(topo, obj->cpuset, HWLOC_OBJ_PU, pu)) != nullptr) {
      core.pus.push_back(osIndex(pu));
    }
    t->cores.push_back(std::move(core));
  }
  t->numPus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
}

void readGpus(hwloc_topology_t topo, LocalTopology* t) {
  for (hwloc_obj_t obj = nullptr; (obj = hwloc_get_next_pcidev(topo, obj)) != nullptr;) {
    const hwloc_obj_attr_u::hwloc_pcidev_attr_s& pci = obj->attr->pcidev;
    Gpu g;
    if (!pciFunctionIsGpu(pci.vendor_id, pci.class_id, &g.vendor)) continue;
    g.pciDeviceId = pci.device_id;
    g.name = gpuName(obj);
    g.pci = locate(topo, obj);
    g.runtimeIndex = runtimeIndexFromOsDevices(obj, g.vendor);
    t->gpus.push_back(std::move(g));
  }
  std::sort(t->gpus.begin(), t->gpus.end(), [](const Gpu& a, const Gpu& b) { return a.pci.busId < b.pci.busId; });
}

// One NIC per PCI function that carries a network interface or an OpenFabrics device (an mlx5 function has
// both: "ib0" and "mlx5_0"); a network OS device that is not on PCI is a NIC of its own.
void readNics(hwloc_topology_t topo, LocalTopology* t) {
  std::map<hwloc_obj_t, size_t> byFunction;
  for (hwloc_obj_t obj = nullptr; (obj = hwloc_get_next_osdev(topo, obj)) != nullptr;) {
    hwloc_obj_osdev_type_t type = obj->attr->osdev.type;
    if ((type != HWLOC_OBJ_OSDEV_NETWORK && type != HWLOC_OBJ_OSDEV_OPENFABRICS) || !obj->name) continue;
    hwloc_obj_t key = obj->parent && obj->parent->type == HWLOC_OBJ_PCI_DEVICE ? obj->parent : obj;
    auto [it, added] = byFunction.emplace(key, t->nics.size());
    if (added) {
      t->nics.push_back({});
      t->nics.back().pci = locate(topo, obj);
    }
    Nic& nic = t->nics[it->second];
    if (type == HWLOC_OBJ_OSDEV_OPENFABRICS && !nic.rdma) {
      nic.rdma = true;
      nic.name = obj->name;
    } else if (type == HWLOC_OBJ_OSDEV_NETWORK && nic.netdev.empty()) {
      nic.netdev = obj->name;
    }
  }
  for (Nic& nic : t->nics) {
    if (nic.name.empty()) nic.name = nic.netdev;
  }
  std::sort(t->nics.begin(), t->nics.end(), [](const Nic& a, const Nic& b) {
    // On PCI first, by bus id; then by name.
    return std::make_tuple(a.pci.busId.empty(), a.pci.busId, a.name) <
           std::make_tuple(b.pci.busId.empty(), b.pci.busId, b.name);
  });
}

}  // namespace

Result readHwlocTopology(const char* xmlPath, LocalTopology* out) {
  std::string what = xmlPath ? std::string("topology file ") + xmlPath : std::string("the live machine");
  Result failure = xmlPath ? mixcclInvalidArgument : mixcclSystemError;
  HwlocHandle handle;
  if (!handle.init()) return failf(mixcclSystemError, "hwloc_topology_init failed: %s", errnoString(errno).c_str());
  hwloc_topology_t topo = handle.get();
  // hwloc drops I/O objects by default. Keep PCI functions of every class (an accelerator whose class hwloc
  // does not rank as important is still a GPU), the bridges that lead to them and the useful OS devices.
  hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  hwloc_topology_set_type_filter(topo, HWLOC_OBJ_PCI_DEVICE, HWLOC_TYPE_FILTER_KEEP_ALL);
  hwloc_topology_set_cache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
  hwloc_topology_set_icache_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_NONE);
  if (xmlPath && hwloc_topology_set_xml(topo, xmlPath) != 0) {
    int err = errno;
    return failf(failure, "%s: hwloc cannot use it as an XML topology: %s", what.c_str(), errnoString(err).c_str());
  }
  if (hwloc_topology_load(topo) != 0) {
    int err = errno;
    return failf(failure, "%s: hwloc could not load %s: %s", what.c_str(),
                 xmlPath ? "it (not an hwloc XML topology?)" : "the topology", errnoString(err).c_str());
  }
  LocalTopology t;
  t.source = xmlPath ? std::string(xmlPath) : std::string("live machine (hwloc)");
  readCpus(topo, &t);
  readGpus(topo, &t);
  readNics(topo, &t);
  *out = std::move(t);
  return mixcclSuccess;
}

}  // namespace mixccl::detail
