// Unit tests of the perf harness pieces that need no communicator: flags, sweep, counts, text and JSON output.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/collective.h"
#include "common/json_writer.h"
#include "common/options.h"
#include "common/report.h"

namespace mixccl::perf {
namespace {

Options parse(std::vector<std::string> args) {
  args.insert(args.begin(), "all_reduce_perf");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return parseOptions(static_cast<int>(argv.size()), argv.data());
}

TEST(PerfOptions, SizesArePowersOf1024) {
  EXPECT_EQ(parseSize("-b", "8"), 8u);
  EXPECT_EQ(parseSize("-b", "64K"), 65536u);
  EXPECT_EQ(parseSize("-b", "32M"), 32u << 20);
  EXPECT_EQ(parseSize("-b", "1g"), 1u << 30);
  for (const char* bad : {"", "K", "12X", "-5", "1.5M", "8 "}) EXPECT_THROW(parseSize("-b", bad), UsageError) << bad;
}

TEST(PerfOptions, Defaults) {
  Options o = parse({});
  EXPECT_EQ(o.minBytes, 32u << 20);
  EXPECT_EQ(o.maxBytes, 32u << 20);
  EXPECT_EQ(o.iters, 20);
  EXPECT_EQ(o.warmupIters, 1);
  EXPECT_EQ(o.checkIters, 1);
  EXPECT_EQ(o.average, Average::kMean);
  EXPECT_EQ(o.types, std::vector<mixcclDataType_t>{mixcclFloat32});
  EXPECT_EQ(o.ops, std::vector<mixcclRedOp_t>{mixcclSum});
  EXPECT_EQ(o.localRanks, 0);
  EXPECT_EQ(o.threadsPerProcess, 1);
}

TEST(PerfOptions, ThreadsPerProcess) {
  EXPECT_EQ(parse({"-N", "2", "-t", "3"}).threadsPerProcess, 3);
  EXPECT_EQ(parse({"-N", "1", "--nthreads=64"}).threadsPerProcess, 64);
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"-t", "2"}, {"-N", "2", "-t", "0"}, {"-N", "2", "-t", "65"}, {"-N", "4096", "-t", "2"}}) {
    EXPECT_THROW(parse(bad), UsageError) << bad[0] << " " << bad[1];
  }
}

TEST(PerfOptions, ShortLongAndAttachedForms) {
  Options o = parse({"-b",      "8", "--maxbytes", "16M", "-f4",        "--iters=5", "-w",     "2",
                     "--check", "0", "-o",         "max", "--datatype", "bfloat16",  "-r",     "1",
                     "-z",      "1", "-a",         "3",   "-N",         "4",         "--json", "out.json"});
  EXPECT_EQ(o.minBytes, 8u);
  EXPECT_EQ(o.maxBytes, 16u << 20);
  EXPECT_EQ(o.stepFactor, 4u);
  EXPECT_EQ(o.iters, 5);
  EXPECT_EQ(o.warmupIters, 2);
  EXPECT_EQ(o.checkIters, 0);
  EXPECT_EQ(o.ops, std::vector<mixcclRedOp_t>{mixcclMax});
  EXPECT_EQ(o.types, std::vector<mixcclDataType_t>{mixcclBfloat16});
  EXPECT_EQ(o.root, 1);
  EXPECT_TRUE(o.blocking);
  EXPECT_EQ(o.average, Average::kMax);
  EXPECT_EQ(o.localRanks, 4);
  EXPECT_EQ(o.jsonPath, "out.json");
}

TEST(PerfOptions, All) {
  Options o = parse({"-d", "all", "-o", "all", "-r", "all"});
  EXPECT_EQ(o.types.size(), static_cast<size_t>(mixcclNumTypes));
  EXPECT_EQ(o.ops.size(), 5u);
  EXPECT_TRUE(o.allRoots);
}

TEST(PerfOptions, RejectsBadCommandLines) {
  const std::vector<std::vector<std::string>> bad = {
      {"-x", "1"},
      {"--nope", "1"},
      {"-b"},
      {"-n", "0"},
      {"-n", "abc"},
      {"-w", "-1"},
      {"-d", "float17"},
      {"-o", "xor"},
      {"-a", "4"},
      {"-z", "2"},
      {"-r", "-1"},
      {"-N", "0"},
      {"-b", "2M", "-e", "1M"},
      {"stray"},
      {"--json="},
      {"-g", "2"},
      {"-G", "1"},
      {"-f", "0"},
      {"--memory", "gpu"},
      {"--memory="},
  };
  for (const auto& args : bad) EXPECT_THROW(parse(args), UsageError) << args[0];
  EXPECT_NO_THROW(parse({"-t", "1", "-g", "1", "-G", "0"}));
}

TEST(PerfOptions, Memory) {
  EXPECT_EQ(parse({}).memory, MemoryMode::kAuto);
  EXPECT_EQ(parse({"--memory", "host"}).memory, MemoryMode::kHost);
  EXPECT_EQ(parse({"--memory=device"}).memory, MemoryMode::kDevice);
  EXPECT_EQ(parse({"--memory", "device", "--memory", "auto"}).memory, MemoryMode::kAuto);
  EXPECT_NE(usageText("all_reduce_perf").find("--memory <host|device>"), std::string::npos);
}

TEST(PerfCollectives, FoundByToolName) {
  for (const char* name :
       {"all_reduce_perf", "all_gather_perf", "reduce_scatter_perf", "broadcast_perf", "reduce_perf"}) {
    const Collective* c = findCollective(name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_STREQ(c->name, name);
  }
  EXPECT_EQ(findCollective("alltoall_perf"), nullptr);
  EXPECT_DOUBLE_EQ(findCollective("all_reduce_perf")->busBwFactor(4), 1.5);
  EXPECT_DOUBLE_EQ(findCollective("reduce_scatter_perf")->busBwFactor(4), 0.75);
  EXPECT_DOUBLE_EQ(findCollective("broadcast_perf")->busBwFactor(4), 1.0);
}

TEST(PerfOptions, SizeSweep) {
  EXPECT_EQ(sizeSweep(parse({"-b", "8", "-e", "128", "-f", "4"})), (std::vector<size_t>{8, 32, 128}));
  EXPECT_EQ(sizeSweep(parse({"-b", "8", "-e", "100", "-f", "4"})), (std::vector<size_t>{8, 32}));
  EXPECT_EQ(sizeSweep(parse({"-b", "1K", "-e", "3K", "-i", "1K"})), (std::vector<size_t>{1024, 2048, 3072}));
  EXPECT_EQ(sizeSweep(parse({})), (std::vector<size_t>{32u << 20}));
}

TEST(PerfCounts, GatherAndScatterRoundTo16Bytes) {
  CollCounts ag = gatherCounts(1000, 4, 3, 2);  // 333 floats per rank -> 332 (a multiple of 4 floats)
  EXPECT_EQ(ag.paramCount, 332u);
  EXPECT_EQ(ag.sendCount, 332u);
  EXPECT_EQ(ag.recvCount, 996u);
  EXPECT_EQ(ag.sendInPlace, 664u);
  EXPECT_EQ(ag.recvInPlace, 0u);
  CollCounts rs = scatterCounts(1000, 8, 3, 1);  // 333 doubles -> 332 (a multiple of 2)
  EXPECT_EQ(rs.paramCount, 332u);
  EXPECT_EQ(rs.recvCount, 332u);
  EXPECT_EQ(rs.sendCount, 996u);
  EXPECT_EQ(rs.sendInPlace, 0u);
  EXPECT_EQ(rs.recvInPlace, 332u);
  EXPECT_EQ(gatherCounts(2, 4, 2, 0).paramCount,
            0u);  // 8 bytes over 2 ranks: nothing left
  CollCounts ar = sameCounts(7, 4, 3, 1);
  EXPECT_EQ(ar.sendCount, 7u);
  EXPECT_EQ(ar.recvCount, 7u);
  EXPECT_EQ(ar.sendInPlace + ar.recvInPlace, 0u);
}

TEST(PerfReport, NumbersUseTheWidestPrecisionThatFits) {
  EXPECT_EQ(formatNumber(10.5, 7), "  10.50");
  EXPECT_EQ(formatNumber(9999.994, 7), "9999.99");
  EXPECT_EQ(formatNumber(12345.67, 7), "12345.7");
  EXPECT_EQ(formatNumber(1234567.8, 7), "1234568");
  EXPECT_EQ(formatNumber(123456789.0, 7),
            "123456789");  // nothing fits: %.0f anyway
  EXPECT_EQ(formatNumber(0.001, 6), "  0.00");
  EXPECT_EQ(formatNumber(1234.5, 6), "1234.5");
}

TEST(PerfReport, RowMatchesTheNcclTestsLayout) {
  ResultRow row;
  row.bytes = 8;
  row.count = 2;
  row.type = "float";
  row.redop = "sum";
  row.root = -1;
  row.outOfPlace = {10.5, 0.001, 0.0015, 0};
  row.inPlace = {10.1, 0.0, 0.0, -1};
  EXPECT_EQ(rowText(row),
            "           8             2     float     sum      "
            "-1    10.50    0.00    0.00       0    10.10    0.00"
            "    0.00     N/A\n");
}

TEST(PerfReport, HeaderAndFooter) {
  Options o;
  o.minBytes = 8;
  o.maxBytes = 134217728;
  o.stepFactor = 2;
  std::string h = headerText("all_reduce_perf", o, {{0, 12345, "node1", -1, "host", ""}, {1, 12346, "node1", -1, "host", ""}});
  EXPECT_NE(h.find("# Collective test starting: all_reduce_perf\n"), std::string::npos);
  EXPECT_NE(h.find("# nThread 1 nGpus 1 minBytes 8 maxBytes 134217728 step: "
                   "2(factor) warmup iters: 1 iters: 20 "
                   "agg iters: 1 validation: 1 graph: 0\n"),
            std::string::npos);
  EXPECT_NE(h.find("#  Rank  1 Group  0 Pid  12346 on      node1 device  -1 "
                   "[host] CPU\n"),
            std::string::npos);
  EXPECT_NE(h.find("#       size         count      type   redop    root     "
                   "time   algbw   busbw  #wrong     time"),
            std::string::npos);
  EXPECT_NE(h.find("graph: 0\n# memory: host\n#\n#  Rank  0"), std::string::npos);
  EXPECT_EQ(h.find("Using devices"), std::string::npos);
  EXPECT_EQ(footerText(0, 12.345), "# Out of bounds values : 0 OK\n# Avg bus bandwidth    : 12.345\n#\n");
  EXPECT_EQ(footerText(3, 1).substr(0, 33), "# Out of bounds values : 3 FAILED");
}

TEST(PerfReport, DeviceHeader) {
  Options o;
  std::vector<RankInfo> ranks = {{0, 12345, "node1", 0, "cuda", "cuda"}, {1, 12346, "node1", 0, "cuda", "cuda"}};
  std::string h = headerText("all_reduce_perf", o, ranks);
  EXPECT_NE(h.find("# memory: cuda (device buffers, one stream per rank)\n#\n# Using devices\n"), std::string::npos);
  EXPECT_NE(h.find("#  Rank  1 Group  0 Pid  12346 on      node1 device   0 [cuda] cuda\n"), std::string::npos);
  ranks[1] = {1, 12346, "node1", -1, "host", ""};  // a host-memory rank in the same run
  EXPECT_EQ(runMemory(ranks), "mixed");
  h = headerText("all_reduce_perf", o, ranks);
  EXPECT_NE(h.find("# memory: mixed"), std::string::npos);
  EXPECT_NE(h.find("#  Rank  1 Group  0 Pid  12346 on      node1 device  -1 [host] CPU\n"), std::string::npos);
}

TEST(PerfJson, RowsAndSummary) {
  Options o;
  RunSummary s;
  s.program = "all_gather_perf";
  s.nranks = 3;
  ResultRow row;
  row.bytes = 48;
  row.count = 4;
  row.type = "float";
  row.redop = "none";
  row.outOfPlace = {1.5, 0.032, 0.0213, 0};
  row.inPlace = {1.25, 0.0384, 0.0256, -1};
  s.rows.push_back(row);
  std::string j = jsonText(o, s);
  EXPECT_NE(j.find("\"program\": \"all_gather_perf\""), std::string::npos);
  EXPECT_NE(j.find("\"memory\": \"host\""), std::string::npos);
  EXPECT_NE(j.find("{\"size\": 48, \"count\": 4, \"type\": \"float\", "
                   "\"redop\": \"none\", \"root\": -1, "
                   "\"out_of_place\": {\"time_us\": 1.5, \"algbw_gbps\": "
                   "0.032, \"busbw_gbps\": 0.0213, "
                   "\"wrong\": 0}, \"in_place\": {\"time_us\": 1.25, "
                   "\"algbw_gbps\": 0.0384, \"busbw_gbps\": "
                   "0.0256, \"wrong\": null}}"),
            std::string::npos);
  EXPECT_NE(j.find("\"out_of_bounds\": 0"), std::string::npos);
}

}  // namespace
}  // namespace mixccl::perf
