#include "tokenizer/pair_merge.h"

#include <queue>

#include "tokenizer/utf8.h"

namespace ptq::tokenizer {
namespace {

// A symbol is a span of the word; merged-away symbols keep length 0.
struct Symbol {
  size_t start = 0;
  size_t length = 0;
  int prev = -1;
  int next = -1;
};

struct Candidate {
  double priority = 0;
  int left = 0;
  int right = 0;
  size_t length = 0;  // of the merged span: detects candidates made stale by other merges

  bool operator<(const Candidate& other) const {
    if (priority != other.priority) return priority < other.priority;
    return left > other.left;
  }
};

class Merger {
 public:
  Merger(std::string_view word, const PairPriority& priority) : _word(word), _priority(priority) {
    const std::vector<size_t> offsets = utf8_char_offsets(word);
    for (size_t i = 0; i < offsets.size(); ++i) {
      const size_t end = i + 1 < offsets.size() ? offsets[i + 1] : word.size();
      _symbols.push_back({offsets[i], end - offsets[i], static_cast<int>(i) - 1,
                          i + 1 < offsets.size() ? static_cast<int>(i) + 1 : -1});
    }
  }

  std::vector<std::string_view> run() {
    for (size_t i = 0; i + 1 < _symbols.size(); ++i) consider(static_cast<int>(i));
    while (!_candidates.empty()) {
      const Candidate best = _candidates.top();
      _candidates.pop();
      Symbol& left = _symbols[best.left];
      Symbol& right = _symbols[best.right];
      if (left.length == 0 || right.length == 0 || left.length + right.length != best.length) {
        continue;
      }
      left.length += right.length;
      right.length = 0;
      left.next = right.next;
      if (right.next >= 0) _symbols[right.next].prev = best.left;
      if (left.prev >= 0) consider(left.prev);
      consider(best.left);
    }
    return collect();
  }

 private:
  void consider(int left_index) {
    const Symbol& left = _symbols[left_index];
    if (left.next < 0) return;
    const Symbol& right = _symbols[left.next];
    const auto priority =
        _priority(_word.substr(left.start, left.length), _word.substr(right.start, right.length));
    if (priority) _candidates.push({*priority, left_index, left.next, left.length + right.length});
  }

  std::vector<std::string_view> collect() const {
    std::vector<std::string_view> pieces;
    for (int i = _symbols.empty() ? -1 : 0; i >= 0; i = _symbols[i].next) {
      pieces.push_back(_word.substr(_symbols[i].start, _symbols[i].length));
    }
    return pieces;
  }

  std::string_view _word;
  const PairPriority& _priority;
  std::vector<Symbol> _symbols;
  std::priority_queue<Candidate> _candidates;
};

}  // namespace

std::vector<std::string_view> merge_pairs(std::string_view word, const PairPriority& priority) {
  return Merger(word, priority).run();
}

std::optional<int32_t> merged_token_id(const std::unordered_map<std::string, int32_t>& ids,
                                       std::string_view left,
                                       std::string_view right) {
  std::string merged;
  merged.reserve(left.size() + right.size());
  merged.append(left).append(right);
  const auto it = ids.find(merged);
  if (it == ids.end()) return std::nullopt;
  return it->second;
}

}  // namespace ptq::tokenizer
