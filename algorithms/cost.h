#pragma once
// Shared pieces of the algorithms' cost estimates (alpha-beta model over ClusterView's link classes).
//
// Every estimate is a pure function of (collective, rank count, cluster view) and never of the calling rank,
// so every rank ranks the algorithms identically.
#include "algorithms/algorithm.h"

namespace mixccl {

// S of the usual formulas, in bytes: the size of the full vector being reduced, gathered or broadcast
// (all-reduce, broadcast, reduce: count elements; all-gather, reduce-scatter: count x nranks elements).
double fullBytes(const CollArgs& args, int nranks);

// The link that bounds a ring in rank order: the farthest class between ranks r and r+1 (mod n) of ctx's cluster.
// Without a cluster in the context, all ranks are on one host.
LinkCost ringCost(const PlanContext& ctx);

// The farthest link class between any two ranks of ctx's cluster (one host without a cluster).
LinkCost widestCost(const PlanContext& ctx);

// Time of `messages` messages of `bytes` each sent back to back over `link`, pipelined in chunks of at most
// `chunkBytes` (every chunk pays the link's latency and both ends' overhead once; the transfer times add up).
double pipelinedSeconds(const LinkCost& link, double bytes, double messages, double chunkBytes);

}  // namespace mixccl
