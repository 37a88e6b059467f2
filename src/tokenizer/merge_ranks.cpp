#include "tokenizer/merge_ranks.h"

namespace ptq::tokenizer {

MergeRanks::MergeRanks(const std::vector<std::pair<std::string, std::string>>& pairs) {
  _ranks.reserve(pairs.size());
  for (size_t rank = 0; rank < pairs.size(); ++rank) {
    // A repeated pair keeps its first (best) rank, as Hugging Face's BPE builder does.
    _ranks.emplace(key(pairs[rank].first, pairs[rank].second), static_cast<int32_t>(rank));
  }
}

std::optional<double> MergeRanks::priority(std::string_view left, std::string_view right) const {
  const auto it = _ranks.find(key(left, right));
  if (it == _ranks.end()) return std::nullopt;
  return -static_cast<double>(it->second);
}

std::string MergeRanks::key(std::string_view left, std::string_view right) {
  std::string joined;
  joined.reserve(left.size() + right.size() + 1);
  joined.append(left).push_back('\0');
  joined.append(right);
  return joined;
}

}  // namespace ptq::tokenizer
