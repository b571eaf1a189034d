// The local topology: the pure model (bus ids, PCIe distance classes, GPU recognition, runtime indices, closest
// NIC, text), the hwloc XML fixtures of tests/fixtures/ (what is found and how GPUs and NICs are placed), the live
// machine, and the errors of the loader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/status.h"
#include "topology/local_topology.h"
#include "topology/topology_loader.h"
#include "topology/topology_text.h"

namespace mixccl {
namespace {

using D = PciDistance;

std::string fixture(const char* name) { return std::string(MIXCCL_FIXTURE_DIR) + "/" + name; }

const char* const kDgx = "dgx_h100_2s_8gpu_4nic.xml";
const char* const kAmd = "amd_mi210_1s_2gpu_1nic.xml";
const char* const kCpu = "cpu_only_2numa_1eth.xml";

// Loads a fixture, or skips (with the reason) in a build without hwloc, where no fixture can be read.
#define LOAD_FIXTURE_OR_SKIP(name, topo)                                                      \
  do {                                                                                        \
    if (!topologyDiscoveryBuiltIn()) {                                                        \
      GTEST_SKIP() << "this build has no hwloc (MIXCCL_WITH_HWLOC=OFF or libhwloc-dev missing):" \
                      " XML fixtures cannot be loaded";                                       \
    }                                                                                         \
    ASSERT_EQ(loadTopologyXml(fixture(name), &(topo)), mixcclSuccess) << lastErrorMessage();   \
  } while (0)

PciLocation at(std::vector<uint64_t> bridges, int numa, int package) {
  return PciLocation{"", std::move(bridges), numa, package};
}

// ---- the pure model ----------------------------------------------------------------------------------------------

TEST(TopologyPci, NormalisesBusIdsAsHwlocCudaAndHipWriteThem) {
  EXPECT_EQ(normalizePciBusId("0000:3b:00.0"), "0000:3b:00.0");
  EXPECT_EQ(normalizePciBusId("0000:3B:00.0"), "0000:3b:00.0");      // CUDA runtime, upper case
  EXPECT_EQ(normalizePciBusId("00000000:3B:00.0"), "0000:3b:00.0");  // NVML, 32-bit domain
  EXPECT_EQ(normalizePciBusId("3b:1f.7"), "0000:3b:1f.7");           // no domain
  EXPECT_EQ(normalizePciBusId("0001:c1:00.1"), "0001:c1:00.1");
  for (const char* bad : {"", "3b", "0000:3b:00", "0000:3b:20.0", "0000:3b:00.8", "0000:13b:00.0", "zz:00.0",
                          "0000:3b.00:0", "10000:3b:00.0"}) {
    EXPECT_EQ(normalizePciBusId(bad), "") << bad;
  }
}

TEST(TopologyPci, DistanceClassFromBridgePathsAndLocality) {
  // Host bridge 1 -> root port 2 -> switch upstream 3 -> downstream ports 4, 5 (leaf devices below each), and
  // downstream port 6 -> second switch 7 -> port 8.
  PciLocation a = at({1, 2, 3, 4}, 0, 0);
  EXPECT_EQ(pciDistance(a, at({1, 2, 3, 5}, 0, 0)), D::kSameSwitch);
  EXPECT_EQ(pciDistance(a, at({1, 2, 3}, 0, 0)), D::kSameSwitch);  // directly below the switch's upstream port
  EXPECT_EQ(pciDistance(a, at({1, 2, 3, 6, 7, 8}, 0, 0)), D::kCrossSwitch);
  EXPECT_EQ(pciDistance(a, at({1, 9}, 0, 0)), D::kHostBridge);
  EXPECT_EQ(pciDistance(a, at({10, 11}, 0, 0)), D::kSameNuma);
  EXPECT_EQ(pciDistance(a, at({10, 11}, 1, 0)), D::kSamePackage);
  EXPECT_EQ(pciDistance(a, at({10, 11}, 2, 1)), D::kCrossPackage);
  EXPECT_EQ(pciDistance(a, at({10, 11}, -1, -1)), D::kCrossPackage) << "unknown locality counts as farthest";
  EXPECT_EQ(pciDistance(at({}, -1, -1), at({}, -1, -1)), D::kCrossPackage);
  EXPECT_EQ(pciDistance(a, a), D::kSameSwitch);
  // Symmetric.
  EXPECT_EQ(pciDistance(at({1, 2, 3, 6, 7, 8}, 0, 0), a), D::kCrossSwitch);
  EXPECT_STREQ(pciDistanceName(D::kSameSwitch), "same-switch");
  EXPECT_STREQ(pciDistanceName(D::kCrossPackage), "cross-package");
}

TEST(TopologyPci, GpusAreNvidiaOrAmdDisplayOrAcceleratorFunctions) {
  GpuVendor v = GpuVendor::kAmd;
  EXPECT_TRUE(pciFunctionIsGpu(0x10de, 0x0302, &v));  // H100: 3D controller
  EXPECT_EQ(v, GpuVendor::kNvidia);
  EXPECT_TRUE(pciFunctionIsGpu(0x1002, 0x0380, &v));  // MI210: display controller
  EXPECT_EQ(v, GpuVendor::kAmd);
  EXPECT_TRUE(pciFunctionIsGpu(0x1002, 0x1200, &v));  // MI300X: processing accelerator
  EXPECT_TRUE(pciFunctionIsGpu(0x10de, 0x0300, &v));  // VGA
  EXPECT_FALSE(pciFunctionIsGpu(0x10de, 0x0403, &v));  // the GPU's HDMI audio function
  EXPECT_FALSE(pciFunctionIsGpu(0x10de, 0x0680, &v));  // NVSwitch
  EXPECT_FALSE(pciFunctionIsGpu(0x8086, 0x0300, &v));  // another vendor's GPU
  EXPECT_FALSE(pciFunctionIsGpu(0x15b3, 0x0207, &v));  // a NIC
}

LocalTopology handMadeTopology() {
  LocalTopology t;
  t.source = "hand-made";
  t.packages = {{0, "test CPU"}};
  t.numaNodes = {{0, 0, 1ull << 30}};
  t.cores = {{0, 0, 0, {0, 1}}};
  t.numPus = 2;
  t.gpus.resize(3);
  t.gpus[0].pci = {"0000:17:00.0", {1, 2}, 0, 0};
  t.gpus[1].pci = {"0000:65:00.0", {5, 6}, 0, 0};
  t.gpus[2].vendor = GpuVendor::kAmd;
  t.gpus[2].pci = {"0000:ca:00.0", {7}, 0, 0};
  t.gpus[2].runtimeIndex = 0;
  t.nics.resize(2);
  t.nics[0] = {"eth0", "eth0", false, {"0000:18:00.0", {1, 3}, 0, 0}};
  t.nics[1] = {"mlx5_0", "ib0", true, {"0000:19:00.0", {1, 4}, 0, 0}};
  return t;
}

TEST(TopologyModel, RuntimeIndicesMatchByBusIdPerVendor) {
  LocalTopology t = handMadeTopology();
  // The runtime lists the second GPU first (e.g. CUDA_VISIBLE_DEVICES=1,0), in its own spelling.
  t.assignRuntimeIndices(GpuVendor::kNvidia, {"00000000:65:00.0", "0000:17:00.0", "0000:ca:00.0"});
  EXPECT_EQ(t.gpus[0].runtimeIndex, 1);
  EXPECT_EQ(t.gpus[1].runtimeIndex, 0);
  EXPECT_EQ(t.gpus[2].runtimeIndex, 0) << "an AMD GPU keeps its HIP index when CUDA names its bus id";
  t.assignRuntimeIndices(GpuVendor::kNvidia, {"0000:17:00.0"});
  EXPECT_EQ(t.gpus[0].runtimeIndex, 0);
  EXPECT_EQ(t.gpus[1].runtimeIndex, -1) << "a GPU the runtime does not show has no index";
  EXPECT_EQ(t.gpuByBusId("0000:65:00.0"), 1);
  EXPECT_EQ(t.gpuByBusId("0000:66:00.0"), -1);
}

TEST(TopologyModel, ClosestNicPrefersTheShortestPathThenRdma) {
  LocalTopology t = handMadeTopology();
  // gpu0 is at host-bridge distance from both NICs: the RDMA one wins the tie.
  EXPECT_EQ(t.gpuNicDistance(0, 0), D::kHostBridge);
  EXPECT_EQ(t.gpuNicDistance(0, 1), D::kHostBridge);
  EXPECT_EQ(t.closestNic(0), 1);
  // A NIC without RDMA that is closer still wins.
  t.nics[0].pci.bridges = {1, 2};
  EXPECT_EQ(t.gpuNicDistance(0, 0), D::kSameSwitch);
  EXPECT_EQ(t.closestNic(0), 0);
  t.nics.clear();
  EXPECT_EQ(t.closestNic(0), -1);
}

TEST(TopologyModel, TextNamesEveryDeviceAndTheDistanceTable) {
  std::string text = renderLocalTopology(handMadeTopology());
  EXPECT_NE(text.find("source: hand-made\n"), std::string::npos) << text;
  EXPECT_NE(text.find("1 packages, 1 NUMA nodes, 1 cores, 2 hardware threads"), std::string::npos) << text;
  EXPECT_NE(text.find("0000:ca:00.0"), std::string::npos) << text;
  EXPECT_NE(text.find("mlx5_0 (ib0)"), std::string::npos) << text;
  EXPECT_NE(text.find("host-bridge    host-bridge*\n"), std::string::npos) << text;
  EXPECT_EQ(text.find(" \n"), std::string::npos) << "no trailing blanks:\n" << text;
}

// ---- fixture (a): two sockets, 8 H100, 4 ConnectX-7 -------------------------------------------------------------

TEST(TopologyFixture, DgxCpusGpusAndNics) {
  LocalTopology t;
  LOAD_FIXTURE_OR_SKIP(kDgx, t);
  EXPECT_EQ(t.source, fixture(kDgx));
  ASSERT_EQ(t.packages.size(), 2u);
  EXPECT_EQ(t.packages[1].os, 1);
  EXPECT_EQ(t.packages[0].cpuModel, "Intel(R) Xeon(R) Platinum 8480C");
  ASSERT_EQ(t.numaNodes.size(), 2u);
  for (int n = 0; n < 2; ++n) {
    EXPECT_EQ(t.numaNodes[n].os, n);
    EXPECT_EQ(t.numaNodes[n].package, n);
    EXPECT_EQ(t.numaNodes[n].memoryBytes, 1024ull << 30);
  }
  ASSERT_EQ(t.cores.size(), 32u);
  EXPECT_EQ(t.numPus, 64);
  for (int c = 0; c < 32; ++c) {
    EXPECT_EQ(t.cores[c].numa, c / 16) << "core " << c;
    EXPECT_EQ(t.cores[c].package, c / 16) << "core " << c;
    EXPECT_EQ(t.cores[c].pus, (std::vector<int>{c, c + 32})) << "core " << c << ": SMT siblings c and c+32";
  }

  const std::vector<std::string> gpuBus = {"0000:06:00.0", "0000:07:00.0", "0000:0b:00.0", "0000:0c:00.0",
                                           "0000:84:00.0", "0000:85:00.0", "0000:89:00.0", "0000:8a:00.0"};
  ASSERT_EQ(t.gpus.size(), 8u) << "the NVSwitch (10de:22a3, class 0680) is not a GPU";
  for (int g = 0; g < 8; ++g) {
    const Gpu& gpu = t.gpus[g];
    EXPECT_EQ(gpu.vendor, GpuVendor::kNvidia) << "gpu " << g;
    EXPECT_EQ(gpu.pciDeviceId, 0x2330) << "gpu " << g;
    EXPECT_EQ(gpu.name, "NVIDIA H100 80GB HBM3") << "gpu " << g;
    EXPECT_EQ(gpu.pci.busId, gpuBus[g]) << "gpu " << g;
    EXPECT_EQ(gpu.pci.numa, g / 4) << "gpu " << g;
    EXPECT_EQ(gpu.pci.package, g / 4) << "gpu " << g;
    EXPECT_EQ(gpu.runtimeIndex, g) << "gpu " << g << ": from the file's cuda" << g << " device";
  }

  const std::vector<std::string> nicBus = {"0000:08:00.0", "0000:0d:00.0", "0000:86:00.0", "0000:8b:00.0"};
  ASSERT_EQ(t.nics.size(), 4u);
  for (int n = 0; n < 4; ++n) {
    const Nic& nic = t.nics[n];
    EXPECT_EQ(nic.name, "mlx5_" + std::to_string(n));
    EXPECT_EQ(nic.netdev, "ib" + std::to_string(n));
    EXPECT_TRUE(nic.rdma) << nic.name;
    EXPECT_EQ(nic.pci.busId, nicBus[n]) << nic.name;
    EXPECT_EQ(nic.pci.numa, n / 2) << nic.name;
  }
}

TEST(TopologyFixture, DgxGpuNicDistancesAndClosestNic) {
  LocalTopology t;
  LOAD_FIXTURE_OR_SKIP(kDgx, t);
  ASSERT_EQ(t.gpus.size(), 8u);
  ASSERT_EQ(t.nics.size(), 4u);
  // Socket 0: one root port, a switch feeding two leaf switches (2 GPUs + 1 NIC each).
  // Socket 1: two root ports of one host bridge, each with one leaf switch (2 GPUs + 1 NIC).
  const D expected[8][4] = {
      {D::kSameSwitch, D::kCrossSwitch, D::kCrossPackage, D::kCrossPackage},
      {D::kSameSwitch, D::kCrossSwitch, D::kCrossPackage, D::kCrossPackage},
      {D::kCrossSwitch, D::kSameSwitch, D::kCrossPackage, D::kCrossPackage},
      {D::kCrossSwitch, D::kSameSwitch, D::kCrossPackage, D::kCrossPackage},
      {D::kCrossPackage, D::kCrossPackage, D::kSameSwitch, D::kHostBridge},
      {D::kCrossPackage, D::kCrossPackage, D::kSameSwitch, D::kHostBridge},
      {D::kCrossPackage, D::kCrossPackage, D::kHostBridge, D::kSameSwitch},
      {D::kCrossPackage, D::kCrossPackage, D::kHostBridge, D::kSameSwitch},
  };
  for (int g = 0; g < 8; ++g) {
    for (int n = 0; n < 4; ++n) {
      EXPECT_EQ(pciDistanceName(t.gpuNicDistance(g, n)), std::string(pciDistanceName(expected[g][n])))
          << "gpu " << g << " <-> " << t.nics[n].name;
    }
    EXPECT_EQ(t.closestNic(g), g / 2) << "gpu " << g << " shares a switch with mlx5_" << g / 2;
  }
  std::string text = renderLocalTopology(t);
  EXPECT_NE(text.find("gpu7    cross-package  cross-package  host-bridge    same-switch*\n"), std::string::npos)
      << text;
}

// ---- fixture (b): one socket, 2 MI210, 1 ConnectX-7 --------------------------------------------------------------

TEST(TopologyFixture, AmdTwoGpusOneNic) {
  LocalTopology t;
  LOAD_FIXTURE_OR_SKIP(kAmd, t);
  EXPECT_EQ(t.packages.size(), 1u);
  EXPECT_EQ(t.numaNodes.size(), 1u);
  EXPECT_EQ(t.cores.size(), 16u);
  EXPECT_EQ(t.numPus, 32);
  ASSERT_EQ(t.gpus.size(), 2u);
  for (int g = 0; g < 2; ++g) {
    EXPECT_EQ(t.gpus[g].vendor, GpuVendor::kAmd);
    EXPECT_EQ(t.gpus[g].pciDeviceId, 0x740f);
    EXPECT_EQ(t.gpus[g].name, "AMD Instinct MI210");
    EXPECT_EQ(t.gpus[g].runtimeIndex, g) << "from the file's rsmi" << g << " device";
    EXPECT_EQ(t.gpus[g].pci.numa, 0);
  }
  EXPECT_EQ(t.gpus[0].pci.busId, "0000:04:00.0");
  EXPECT_EQ(t.gpus[1].pci.busId, "0000:07:00.0");
  ASSERT_EQ(t.nics.size(), 1u);
  EXPECT_EQ(t.nics[0].name, "mlx5_0");
  EXPECT_EQ(t.nics[0].netdev, "ib0");
  EXPECT_EQ(t.nics[0].pci.busId, "0000:05:00.0");
  EXPECT_EQ(t.gpuNicDistance(0, 0), D::kSameSwitch);
  EXPECT_EQ(t.gpuNicDistance(1, 0), D::kSameNuma) << "GPU 1 is on another host bridge of the same NUMA node";
  EXPECT_EQ(t.closestNic(0), 0);
  EXPECT_EQ(t.closestNic(1), 0);
}

// ---- fixture (c): CPU only, one socket in two NUMA nodes, one Ethernet NIC ---------------------------------------

TEST(TopologyFixture, CpuOnlyTwoNumaNodesOneEthernetNic) {
  LocalTopology t;
  LOAD_FIXTURE_OR_SKIP(kCpu, t);
  ASSERT_EQ(t.packages.size(), 1u);
  ASSERT_EQ(t.numaNodes.size(), 2u);
  EXPECT_EQ(t.numaNodes[0].package, 0);
  EXPECT_EQ(t.numaNodes[1].package, 0);
  EXPECT_EQ(t.numaNodes[1].memoryBytes, 64ull << 30);
  ASSERT_EQ(t.cores.size(), 8u);
  EXPECT_EQ(t.numPus, 8);
  for (int c = 0; c < 8; ++c) {
    EXPECT_EQ(t.cores[c].numa, c / 4) << "core " << c;
    EXPECT_EQ(t.cores[c].pus, std::vector<int>{c}) << "core " << c;
  }
  EXPECT_TRUE(t.gpus.empty());
  ASSERT_EQ(t.nics.size(), 1u);
  EXPECT_EQ(t.nics[0].name, "eno1");
  EXPECT_EQ(t.nics[0].netdev, "eno1");
  EXPECT_FALSE(t.nics[0].rdma);
  EXPECT_EQ(t.nics[0].pci.busId, "0000:42:00.0");
  EXPECT_EQ(t.nics[0].pci.numa, 1) << "the NIC hangs below NUMA node 1's host bridge";
  EXPECT_EQ(t.nics[0].pci.package, 0);
}

// ---- sources and errors -----------------------------------------------------------------------------------------

TEST(TopologyLoader, EnvironmentVariableSelectsTheFile) {
  if (!topologyDiscoveryBuiltIn()) GTEST_SKIP() << "this build has no hwloc: MIXCCL_TOPO_FILE cannot be loaded";
  setenv("MIXCCL_TOPO_FILE", fixture(kAmd).c_str(), 1);
  LocalTopology t;
  Result r = loadLocalTopology(&t);
  unsetenv("MIXCCL_TOPO_FILE");
  ASSERT_EQ(r, mixcclSuccess) << lastErrorMessage();
  EXPECT_EQ(t.source, fixture(kAmd));
  EXPECT_EQ(t.gpus.size(), 2u);
}

TEST(TopologyLoader, LiveMachineLoadsWhenHwlocIsBuiltIn) {
  LocalTopology t;
  Result r = loadLiveTopology(&t);
  if (!topologyDiscoveryBuiltIn()) {
    EXPECT_EQ(r, mixcclInvalidUsage);
    EXPECT_NE(std::string(lastErrorMessage()).find("built without hwloc"), std::string::npos) << lastErrorMessage();
    return;
  }
  ASSERT_EQ(r, mixcclSuccess) << lastErrorMessage();
  EXPECT_GE(t.numaNodes.size(), 1u);
  EXPECT_GE(t.numPus, 1);
  EXPECT_LE(t.numPus, static_cast<int>(sysconf(_SC_NPROCESSORS_CONF)));
  int pusOfCores = 0;
  for (const CpuCore& c : t.cores) pusOfCores += static_cast<int>(c.pus.size());
  if (!t.cores.empty()) {
    EXPECT_EQ(pusOfCores, t.numPus) << "every hardware thread belongs to one core";
  }
  for (const Gpu& g : t.gpus) {
    EXPECT_EQ(normalizePciBusId(g.pci.busId), g.pci.busId);
    EXPECT_EQ(access(("/sys/bus/pci/devices/" + g.pci.busId).c_str(), F_OK), 0) << g.pci.busId;
  }
  for (const Nic& n : t.nics) {
    EXPECT_FALSE(n.name.empty());
    if (!n.netdev.empty()) {
      EXPECT_EQ(access(("/sys/class/net/" + n.netdev).c_str(), F_OK), 0) << n.netdev;
    }
  }
  printf("live machine: %zu NUMA nodes, %zu cores, %d PUs, %zu GPUs, %zu NICs\n", t.numaNodes.size(),
         t.cores.size(), t.numPus, t.gpus.size(), t.nics.size());
}

TEST(TopologyLoader, MissingFileIsAnErrorNamingIt) {
  const std::string path = "/nonexistent-mixccl-dir/topology.xml";
  LocalTopology t;
  t.source = "untouched";
  EXPECT_EQ(loadTopologyXml(path, &t), mixcclInvalidArgument);
  EXPECT_NE(std::string(lastErrorMessage()).find(path), std::string::npos) << lastErrorMessage();
  EXPECT_NE(std::string(lastErrorMessage()).find("No such file"), std::string::npos) << lastErrorMessage();
  EXPECT_EQ(t.source, "untouched") << "the output is written only on success";

  EXPECT_EQ(loadTopologyXml(MIXCCL_FIXTURE_DIR, &t), mixcclInvalidArgument);
  EXPECT_NE(std::string(lastErrorMessage()).find("not a regular file"), std::string::npos) << lastErrorMessage();
}

TEST(TopologyLoader, FileThatIsNotHwlocXmlIsAnErrorNamingIt) {
  if (!topologyDiscoveryBuiltIn()) GTEST_SKIP() << "this build has no hwloc: the XML parser is not there";
  char path[] = "/tmp/mixccl-topo-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const char garbage[] = "this is not an hwloc topology\n";
  ASSERT_EQ(write(fd, garbage, sizeof(garbage) - 1), static_cast<ssize_t>(sizeof(garbage) - 1));
  close(fd);
  LocalTopology t;
  Result r = loadTopologyXml(path, &t);
  std::string message = lastErrorMessage();
  unlink(path);
  EXPECT_EQ(r, mixcclInvalidArgument);
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

}  // namespace
}  // namespace mixccl
