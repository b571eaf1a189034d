#include "topology/cluster_file.h"

#include <fstream>
#include <sstream>

#include "topology/link_cost_text.h"

namespace mixccl {
namespace {

// Reads "key=<positive int>" into *value; false if `word` is not that key.
bool keyInt(const std::string& word, const char* key, int* value) {
  const std::string prefix = std::string(key) + "=";
  if (word.compare(0, prefix.size(), prefix) != 0) return false;
  *value = atoi(word.c_str() + prefix.size());
  return true;
}

}  // namespace

Result parseClusterText(const std::string& text, const std::string& source, ClusterView* out) {
  std::vector<RankPlacement> placements;
  LinkCost costs[kNumLinkClasses];
  ClusterView::defaultCosts(costs);
  std::istringstream lines(text);
  std::string line;
  for (int lineNo = 1; std::getline(lines, line); ++lineNo) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string verb;
    if (!(words >> verb)) continue;
    if (verb == "site") {
      std::string name, word;
      int hosts = 0, ranksPerHost = 0, gpus = 0;
      words >> name;
      while (words >> word) {
        if (!keyInt(word, "hosts", &hosts) && !keyInt(word, "ranks_per_host", &ranksPerHost) &&
            !keyInt(word, "gpus_per_host", &gpus)) {
          return failf(mixcclInvalidArgument, "%s:%d: unknown site attribute '%s' (hosts=, ranks_per_host=, "
                       "gpus_per_host=)", source.c_str(), lineNo, word.c_str());
        }
      }
      if (name.empty() || hosts < 1 || ranksPerHost < 1 || gpus < 0) {
        return failf(mixcclInvalidArgument, "%s:%d: a site needs a name, hosts=<n >= 1> and ranks_per_host=<n >= 1>",
                     source.c_str(), lineNo);
      }
      for (int h = 0; h < hosts; ++h) {
        RankPlacement p;
        p.site = name;
        p.host = name + "/h" + std::to_string(h);
        for (int l = 0; l < ranksPerHost; ++l) {
          p.device = gpus > 0 ? l % gpus : -1;
          placements.push_back(p);
        }
      }
    } else if (verb == "link") {
      std::string cls, latency, bandwidth, error;
      words >> cls >> latency >> bandwidth;
      LinkClass c;
      LinkCost cost;
      if (!parseLinkClass(cls, &c, &error) || !parseLatency(latency, &cost.alphaSec, &error) ||
          !parseBandwidth(bandwidth, &cost.bytesPerSec, &error)) {
        return failf(mixcclInvalidArgument, "%s:%d: %s", source.c_str(), lineNo, error.c_str());
      }
      costs[static_cast<int>(c)] = cost;
    } else {
      return failf(mixcclInvalidArgument, "%s:%d: unknown statement '%s' (site, link)", source.c_str(), lineNo,
                   verb.c_str());
    }
  }
  if (placements.empty()) return failf(mixcclInvalidArgument, "%s: no site described", source.c_str());
  *out = ClusterView::build(placements, costs);
  return mixcclSuccess;
}

Result loadClusterFile(const std::string& path, ClusterView* out) {
  std::ifstream in(path);
  if (!in) return failf(mixcclInvalidArgument, "cannot read cluster description '%s'", path.c_str());
  std::stringstream text;
  text << in.rdbuf();
  return parseClusterText(text.str(), path, out);
}

}  // namespace mixccl
