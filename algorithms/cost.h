#pragma once
// Shared pieces of the algorithms' cost estimates (alpha-beta model over ClusterView's link classes).
//
// Every estimate is a pure function of (collective, rank count, cluster view) and never of the calling rank,
// so every rank ranks the algorithms identically.
#include "algorithms/algorithm.h"

namespace mixccl {

// The cluster an algorithm plans on: ctx.cluster, or a single-host view of ctx.nranks ranks kept in *fallback.
const ClusterView& clusterOf(const PlanContext& ctx, ClusterView* fallback);

// S of the usual formulas, in bytes: the size of the full vector being reduced, gathered or broadcast
// (all-reduce, broadcast, reduce: count elements; all-gather, reduce-scatter: count x nranks elements).
double fullBytes(const CollArgs& args, int nranks);

// The slowest link between ranks r and r+1 (mod n), r over all ranks: what bounds a ring in rank order.
LinkCost ringLink(const ClusterView& view);

// The slowest link between any two ranks of the view.
LinkCost widestLink(const ClusterView& view);

// Time of `messages` messages of `bytes` each sent back to back over `link`, pipelined in chunks of at most
// `chunkBytes` (every chunk pays the link's latency and both ends' overhead once; the transfer times add up).
double pipelinedSeconds(const LinkCost& link, double bytes, double messages, double chunkBytes);

}  // namespace mixccl
