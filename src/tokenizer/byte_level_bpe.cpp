#include "tokenizer/byte_level_bpe.h"

#include <algorithm>

#include "ptq/common/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pair_merge.h"
#include "tokenizer/unicode_normalization.h"

namespace ptq::tokenizer {
namespace {

// Bounds the cache for long-running processes; far above the distinct words of any eval set.
constexpr size_t kMaxCachedWords = 1 << 20;

std::vector<std::string> tokens_by_id(const std::unordered_map<std::string, int32_t>& vocab,
                                      const SpecialTokens& specials) {
  int64_t end = specials.id_end();
  for (const auto& [token, id] : vocab) end = std::max<int64_t>(end, int64_t{id} + 1);
  const auto count = static_cast<int64_t>(vocab.size()) + specials.size();
  PTQ_CHECK_INPUT(end <= count, "token ids run to ", end - 1,
                  " but the vocabulary and its added "
                  "tokens hold only ",
                  count, " tokens");
  std::vector<std::string> tokens(static_cast<size_t>(end));
  for (const auto& [token, id] : vocab) tokens[id] = token;
  return tokens;
}

}  // namespace

ByteLevelBpe::ByteLevelBpe(std::unordered_map<std::string, int32_t> vocab,
                           std::optional<MergeRanks> merges,
                           SpecialTokens specials,
                           const Options& options)
    : _ids(std::move(vocab)),
      _tokens(tokens_by_id(_ids, specials)),
      _merges(std::move(merges)),
      _specials(std::move(specials)),
      _splitter(options.split_pattern),
      _options(options) {
  // Bytes that never occur in UTF-8 (C0, C1, F5-FF) may be missing, as in GPT-NeoX's
  // vocabulary: the splitter refuses text that is not UTF-8 before it gets here.
  for (int byte = 0; byte < 0xF5; ++byte) {
    if (byte == 0xC0 || byte == 0xC1) continue;
    const std::string character = bytes_to_unicode(std::string(1, static_cast<char>(byte)));
    PTQ_CHECK_INPUT(_ids.count(character), "byte-level vocabulary has no token for byte ", byte);
  }
}

std::vector<int32_t> ByteLevelBpe::encode_raw(const std::string& text) const {
  std::vector<int32_t> ids;
  for (const auto& segment : _specials.split(text)) {
    if (segment.id) {
      ids.push_back(*segment.id);
    } else {
      encode_piece(segment.text, ids);
    }
  }
  return ids;
}

void ByteLevelBpe::encode_piece(std::string_view piece, std::vector<int32_t>& ids) const {
  std::string normalized;
  if (_options.nfc) {
    normalized = nfc(piece);
    piece = normalized;
  }
  if (_options.add_prefix_space && !piece.empty() && piece.front() != ' ') {
    normalized = " " + std::string(piece);
    piece = normalized;
  }
  for (const std::string_view word : _splitter.split(piece)) {
    const std::string mapped = bytes_to_unicode(word);
    {
      const std::lock_guard<std::mutex> lock(_cache_mutex);
      const auto it = _cache.find(mapped);
      if (it != _cache.end()) {
        ids.insert(ids.end(), it->second.begin(), it->second.end());
        continue;
      }
    }
    std::vector<int32_t> word_ids = merge_word(mapped);
    ids.insert(ids.end(), word_ids.begin(), word_ids.end());
    const std::lock_guard<std::mutex> lock(_cache_mutex);
    if (_cache.size() >= kMaxCachedWords) _cache.clear();
    _cache.emplace(mapped, std::move(word_ids));
  }
}

std::vector<int32_t> ByteLevelBpe::merge_word(const std::string& word) const {
  if (_options.ignore_merges) {
    const auto whole = _ids.find(word);
    if (whole != _ids.end()) return {whole->second};
  }
  const PairPriority priority = [this](std::string_view left, std::string_view right) {
    return pair_priority(left, right);
  };
  std::vector<int32_t> ids;
  for (const std::string_view symbol : merge_pairs(word, priority)) {
    const auto it = _ids.find(std::string(symbol));
    PTQ_CHECK_INPUT(it != _ids.end(), "BPE merges produce '", symbol,
                    "', which is not in the vocabulary");
    ids.push_back(it->second);
  }
  return ids;
}

std::optional<double> ByteLevelBpe::pair_priority(std::string_view left,
                                                  std::string_view right) const {
  if (_merges) return _merges->priority(left, right);
  const auto id = merged_token_id(_ids, left, right);
  if (!id) return std::nullopt;
  return -static_cast<double>(*id);
}

std::string ByteLevelBpe::decode(const std::vector<int32_t>& ids) const {
  std::string text;
  std::string mapped;  // byte-alphabet text not yet turned back into bytes
  for (const int32_t id : ids) {
    PTQ_CHECK_INPUT(id >= 0 && id < vocab_size(), "token id ", id, " is outside the vocabulary");
    if (const std::string* added = _specials.content(id)) {
      if (_specials.is_special(id)) continue;
      text += unicode_to_bytes(mapped);
      mapped.clear();
      text += *added;  // added tokens hold plain text, not byte-alphabet text
    } else {
      mapped += _tokens[id];
    }
  }
  return text + unicode_to_bytes(mapped);
}

std::optional<int32_t> ByteLevelBpe::token_id(const std::string& token) const {
  if (const auto special = _specials.find(token)) return special;
  const auto it = _ids.find(token);
  if (it == _ids.end()) return std::nullopt;
  return it->second;
}

}  // namespace ptq::tokenizer
