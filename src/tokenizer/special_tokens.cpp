#include "tokenizer/special_tokens.h"

#include <algorithm>

namespace ptq::tokenizer {

void SpecialTokens::add(const std::string& content, int32_t id, bool special) {
  if (content.empty()) return;
  _ids[content] = id;
  _contents[id] = content;
  if (special) {
    _special_ids.insert(id);
  } else {
    _special_ids.erase(id);
  }
}

bool SpecialTokens::contains_id(int32_t id) const { return _contents.count(id) > 0; }

const std::string* SpecialTokens::content(int32_t id) const {
  const auto it = _contents.find(id);
  return it == _contents.end() ? nullptr : &it->second;
}

std::optional<int32_t> SpecialTokens::find(const std::string& content) const {
  const auto it = _ids.find(content);
  if (it == _ids.end()) return std::nullopt;
  return it->second;
}

int64_t SpecialTokens::id_end() const {
  int64_t end = 0;
  for (const auto& [id, content] : _contents) end = std::max<int64_t>(end, int64_t{id} + 1);
  return end;
}

std::vector<SpecialTokens::Segment> SpecialTokens::split(std::string_view text) const {
  // Next occurrence of each token at or after `start`, refreshed only once passed, so that a text
  // with many matches is still scanned about once per token.
  std::vector<std::pair<const std::string*, size_t>> next;
  for (const auto& entry : _ids) next.emplace_back(&entry.first, text.find(entry.first));
  std::vector<Segment> segments;
  size_t start = 0;
  while (start < text.size()) {
    const std::string* best = nullptr;
    size_t best_at = std::string_view::npos;
    for (auto& [token, at] : next) {
      if (at != std::string_view::npos && at < start) at = text.find(*token, start);
      if (at == std::string_view::npos) continue;
      if (at < best_at || (at == best_at && token->size() > best->size())) {
        best = token;
        best_at = at;
      }
    }
    if (!best) break;
    if (best_at > start) segments.push_back({text.substr(start, best_at - start), std::nullopt});
    segments.push_back({text.substr(best_at, best->size()), _ids.at(*best)});
    start = best_at + best->size();
  }
  if (start < text.size()) segments.push_back({text.substr(start), std::nullopt});
  return segments;
}

}  // namespace ptq::tokenizer
