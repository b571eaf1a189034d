// The hierarchical schedule.
//
// Levels. The cluster view groups ranks into hosts and hosts into sites; every host has L ranks and every site H
// hosts (supports() checks it), over S sites. A rank is named by (site s, host position h in the site, local
// index l on the host). Three rings, each joining the ranks that differ in one coordinate only:
//   level 0 (host):  the L ranks of one host                      (s, h fixed)   -- shared memory / GPU links
//   level 1 (site):  the H ranks with the same l on one site      (s, l fixed)   -- the data-centre network
//   level 2 (cross): the S ranks with the same (h, l)             (h, l fixed)   -- the WAN
// A level of one rank is skipped.
//
// Data. The vector of `count` elements is cut at level 0 into L blocks (blockRange); a rank keeps going with its
// block l only, which level 1 cuts into H blocks, of which it keeps block h, and so on. Every member of a level's
// ring has the same region, so the ring is an ordinary one (group_ring.h) over that region:
//   down:  reduce-scatter at every level but the top; the first active level reads the send buffer, later
//          levels the partial sums already in the receive buffer;
//   top:   all-reduce (reduce-scatter + all-gather; each final value is computed once, so every rank gets the
//          same bits, and avg divides there);
//   up:    all-gather at every level below the top, in reverse order.
// Bytes: at the top a rank moves 2(S-1)/S of a region of count/(L*H) elements, so the WAN carries the least data
// any scheme can: every element crosses it about twice, once per direction, split over L*H parallel rings.
//
// Overlap. The phases are written one after the other, then cut into lanes (engine/lane_split.h): a lane per
// level, or in a ring of 2 (where one peer is both prev and next) one for its sends and one for its receives, so
// that sends never wait behind a receive. A level thus works on a chunk as soon as the level below has produced
// it, and the slow top keeps its link busy while the fast levels fill and drain around it. All-gather messages use
// channel 2. (Measured, perf/RESULTS.md: one lane per phase and direction, the reduce-scatter sends running ahead
// of the all-gather ones, ran a WAN pair at 1.14x its bound; sends kept in their sequential order, 1.05x.) For
// that to pay off, a level visits its chunk indices in the order the level above
// consumes them (chunkOrder): the level above works on one block of this level's region, cut into its own
// blocks, and takes chunk k of each of those blocks at once.
#include "algorithms/hierarchical.h"

#include <algorithm>
#include <utility>

#include "algorithms/cost.h"
#include "algorithms/group_ring.h"
#include "core/datatype.h"
#include "engine/lane_split.h"

namespace mixccl {
namespace {

struct Levels {
  GroupRing ring[3];
  LinkClass link[3] = {LinkClass::kSameHost, LinkClass::kSameSite, LinkClass::kCrossSite};
};

// The three rings of `rank`, with regions cut from [0, count).
Levels levelsOf(const ClusterView& v, int rank, uint64_t count, uint64_t chunk) {
  Levels lv;
  const int host = v.hostOf(rank);
  const int site = v.siteOfHost(host);
  const int local = v.localIndex(rank);
  const auto& siteHosts = v.hostsOfSite(site);
  const int hostPos = static_cast<int>(std::find(siteHosts.begin(), siteHosts.end(), host) - siteHosts.begin());

  lv.ring[0].group = v.ranksOnHost(host);
  lv.ring[0].pos = local;
  for (int h : siteHosts) lv.ring[1].group.push_back(v.ranksOnHost(h)[local]);
  lv.ring[1].pos = hostPos;
  for (int s = 0; s < v.numSites(); ++s) lv.ring[2].group.push_back(v.ranksOnHost(v.hostsOfSite(s)[hostPos])[local]);
  lv.ring[2].pos = site;

  uint64_t begin = 0, length = count;
  for (int i = 0; i < 3; ++i) {
    GroupRing& g = lv.ring[i];
    g.begin = begin;
    g.length = length;
    g.chunk = chunk;
    if (g.size() > 1) lv.link[i] = v.linkClass(g.group[0], g.group[1]);
    Range mine = g.block(g.pos);
    begin = mine.begin;
    length = mine.size;
  }
  return lv;
}

// Chunk visiting order of active level `a` (ring sizes `sizes`, bottom first) over a region of `length` elements:
// by the earliest chunk of the level above that needs it. Depends only on lengths and sizes, so every member of a
// ring computes the same order (block 0 of the region stands for the block each member passes up: block sizes
// differ by one element at most).
std::vector<uint64_t> chunkOrder(const std::vector<int>& sizes, size_t a, uint64_t length, uint64_t chunk) {
  const int g = sizes[a];
  const uint64_t K = ceilDiv(ceilDiv(length, g), chunk);
  std::vector<uint64_t> order(K);
  for (uint64_t k = 0; k < K; ++k) order[k] = k;
  if (a + 1 == sizes.size() || K == 0) return order;
  const uint64_t own = blockRange(length, g, 0).size;
  const std::vector<uint64_t> above = chunkOrder(sizes, a + 1, own, chunk);
  const int ga = sizes[a + 1];
  std::vector<uint64_t> need(K, above.size());
  for (uint64_t p = 0; p < above.size(); ++p) {
    for (int j = 0; j < ga; ++j) {
      const Range b = blockRange(own, ga, j);
      const Range c = chunkRange(b.size, chunk, above[p]);
      if (c.size == 0) continue;
      const uint64_t first = (b.begin + c.begin) / chunk, last = (b.begin + c.begin + c.size - 1) / chunk;
      for (uint64_t x = first; x <= last && x < K; ++x) need[x] = std::min(need[x], p);
    }
  }
  std::stable_sort(order.begin(), order.end(), [&](uint64_t x, uint64_t y) { return need[x] < need[y]; });
  return order;
}

}  // namespace

bool HierarchicalAlgorithm::supports(const CollArgs& args, const PlanContext& ctx) const {
  const ClusterView* v = ctx.cluster;
  return args.type == CollType::kAllReduce && v != nullptr && v->nranks() == ctx.nranks && v->numHosts() > 1 &&
         v->uniformHosts() && v->uniformSites();
}

Plan HierarchicalAlgorithm::plan(const CollArgs& args, const PlanContext& ctx) const {
  const uint64_t chunk = chunkElements(args, ctx);
  Levels lv = levelsOf(*ctx.cluster, ctx.rank, args.count, chunk);
  int active[3];
  int numActive = 0;
  for (int i = 0; i < 3; ++i) {
    if (lv.ring[i].size() > 1) active[numActive++] = i;
  }
  std::vector<int> sizes;
  for (int a = 0; a < numActive; ++a) sizes.push_back(lv.ring[active[a]].size());
  std::vector<std::vector<uint64_t>> orders(numActive);
  std::vector<uint8_t> tags;
  for (int a = 0; a < numActive; ++a) {
    GroupRing& g = lv.ring[active[a]];
    orders[a] = chunkOrder(sizes, a, g.length, chunk);
    g.order = &orders[a];
    g.agChannel = 2;
    g.tags = &tags;
    g.laneTag = static_cast<uint8_t>(2 * a);
  }
  Plan sequential;
  for (int a = 0; a < numActive; ++a) {
    const bool top = a == numActive - 1;
    lv.ring[active[a]].reduceScatter(a == 0 ? BufKind::kSend : BufKind::kRecv, top, top, &sequential);
  }
  for (int a = numActive - 2; a >= 0; --a) lv.ring[active[a]].allGather(&sequential);
  return splitLanes(std::move(sequential), tags);
}

double HierarchicalAlgorithm::estimate(const CollArgs& args, const PlanContext& ctx) const {
  const ClusterView& v = *ctx.cluster;
  // Any rank's levels have the same sizes and link classes; rank 0's are used so the estimate is rank-free.
  Levels lv = levelsOf(v, 0, args.count, 1);
  const double chunk = static_cast<double>(ctx.chunkBytes);
  double region = fullBytes(args, ctx.nranks);
  int top = 0;
  for (int i = 0; i < 3; ++i) {
    if (lv.ring[i].size() > 1) top = i;
  }
  // The levels overlap (see the top of this file): the slowest level sets the pace, and each other level adds
  // the time it takes to pass one chunk (filling the pipeline on the way down, draining it on the way up).
  double slowest = 0, slowestChunk = 0, chunks = 0;
  for (int i = 0; i <= top; ++i) {
    const int g = lv.ring[i].size();
    if (g == 1) continue;
    const LinkCost& link = v.cost(lv.link[i]);
    // Reduce-scatter down and all-gather up (or the top's all-reduce): 2(g-1) messages of region/g.
    const double level = pipelinedSeconds(link, region / g, 2.0 * (g - 1), chunk);
    const double oneChunk = pipelinedSeconds(link, std::min(region / g, chunk), 2.0 * (g - 1), chunk);
    chunks += oneChunk;
    if (level > slowest) {
      slowest = level;
      slowestChunk = oneChunk;
    }
    region /= g;
  }
  return slowest + chunks - slowestChunk;
}

}  // namespace mixccl
