#include "tokenizer/sentencepiece_bpe.h"

#include <algorithm>
#include <cstdio>

#include "ptq/common/error.h"
#include "tokenizer/pair_merge.h"

namespace ptq::tokenizer {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, sentencepiece's visible space

// sentencepiece's remove_extra_whitespaces: no leading, trailing or repeated spaces.
std::string collapse_spaces(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string byte_piece_text(int byte) {
  char text[8];
  std::snprintf(text, sizeof(text), "<0x%02X>", byte);
  return text;
}

}  // namespace

SentencePieceBpe::SentencePieceBpe(std::vector<Piece> pieces,
                                   std::optional<MergeRanks> merges,
                                   SpecialTokens specials,
                                   const SentencePieceOptions& options)
    : _pieces(std::move(pieces)),
      _merges(std::move(merges)),
      _specials(std::move(specials)),
      _options(options) {
  std::unordered_map<std::string, int> byte_values;
  for (int byte = 0; byte < 256; ++byte) byte_values[byte_piece_text(byte)] = byte;
  for (size_t i = 0; i < _pieces.size(); ++i) {
    const Piece& piece = _pieces[i];
    const auto id = static_cast<int32_t>(i);
    _all_ids.emplace(piece.text, id);
    if (piece.type == PieceType::UserDefined) _user_defined.add(piece.text, id, false);
    if (piece.type == PieceType::Normal || piece.type == PieceType::UserDefined) {
      _mergeable_ids.emplace(piece.text, id);
    } else if (piece.type == PieceType::Byte) {
      const auto byte = byte_values.find(piece.text);
      PTQ_CHECK_INPUT(byte != byte_values.end(), "byte piece ", id, " is '", piece.text,
                      "', not <0xXX>");
      _byte_ids[byte->second] = id;
    } else if (piece.type == PieceType::Unknown) {
      _unk_id = id;
    }
  }
  const int64_t end = std::max<int64_t>(_specials.id_end(), static_cast<int64_t>(_pieces.size()));
  _pieces.resize(static_cast<size_t>(end), {"", 0, PieceType::Unused});
  for (int64_t id = 0; id < end; ++id) {
    const std::string* added = _specials.content(static_cast<int32_t>(id));
    if (!added || !_pieces[id].text.empty()) continue;
    const bool special = _specials.is_special(static_cast<int32_t>(id));
    _pieces[id] = {*added, 0, special ? PieceType::Control : PieceType::UserDefined};
  }
}

std::vector<int32_t> SentencePieceBpe::encode_raw(const std::string& text) const {
  std::vector<int32_t> ids;
  for (const auto& segment : _specials.split(text)) {
    if (segment.id) {
      ids.push_back(*segment.id);
    } else {
      encode_normalized(normalize(segment.text, segment.text.data() == text.data()), ids);
    }
  }
  return ids;
}

void SentencePieceBpe::encode_normalized(std::string_view normalized,
                                         std::vector<int32_t>& ids) const {
  const PairPriority priority = [this](std::string_view left, std::string_view right) {
    return pair_priority(left, right);
  };
  for (const auto& part : _user_defined.split(normalized)) {
    if (part.id) {
      ids.push_back(*part.id);
      continue;
    }
    for (const std::string_view word : words(part.text)) {
      for (const std::string_view symbol : merge_pairs(word, priority)) {
        append_symbol_ids(symbol, ids);
      }
    }
  }
}

std::string SentencePieceBpe::normalize(std::string_view text, bool at_start) const {
  std::string spaced =
      _options.remove_extra_whitespaces ? collapse_spaces(text) : std::string(text);
  if (spaced.empty()) return spaced;
  if (_options.add_dummy_prefix && (at_start || !_options.dummy_prefix_at_start_only)) {
    spaced.insert(0, " ");
  }
  if (!_options.escape_whitespaces) return spaced;
  std::string escaped;
  escaped.reserve(spaced.size() * 2);
  for (const char c : spaced) {
    if (c == ' ') {
      escaped += kSpace;
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::vector<std::string_view> SentencePieceBpe::words(std::string_view normalized) const {
  if (!_options.split_words) return {normalized};
  std::vector<std::string_view> words;
  size_t start = 0;
  for (size_t at = normalized.find(kSpace, 1); at != std::string_view::npos;
       at = normalized.find(kSpace, at + kSpace.size())) {
    words.push_back(normalized.substr(start, at - start));
    start = at;
  }
  words.push_back(normalized.substr(start));
  return words;
}

std::optional<double> SentencePieceBpe::pair_priority(std::string_view left,
                                                      std::string_view right) const {
  if (_merges) return _merges->priority(left, right);
  const auto id = merged_token_id(_mergeable_ids, left, right);
  if (!id) return std::nullopt;
  return _pieces[*id].score;
}

void SentencePieceBpe::append_symbol_ids(std::string_view symbol, std::vector<int32_t>& ids) const {
  const auto it = _mergeable_ids.find(std::string(symbol));
  if (it != _mergeable_ids.end()) {
    ids.push_back(it->second);
    return;
  }
  if (_options.byte_fallback) {
    for (const unsigned char byte : symbol) {
      PTQ_CHECK_INPUT(_byte_ids[byte], "byte-fallback tokenizer has no piece ",
                      byte_piece_text(byte));
      ids.push_back(*_byte_ids[byte]);
    }
    return;
  }
  PTQ_CHECK_INPUT(_unk_id, "no piece for '", symbol, "' and the tokenizer has no unknown piece");
  ids.push_back(*_unk_id);
}

std::string SentencePieceBpe::decode(const std::vector<int32_t>& ids) const {
  std::string text;
  for (const int32_t id : ids) {
    PTQ_CHECK_INPUT(id >= 0 && id < vocab_size(), "token id ", id, " is outside the vocabulary");
    const Piece& piece = _pieces[id];
    if (piece.type == PieceType::Byte) {
      text += static_cast<char>(std::stoi(piece.text.substr(3, 2), nullptr, 16));
    } else if (piece.type == PieceType::Unknown) {
      text += " \xE2\x81\x87 ";  // sentencepiece writes unknowns as " ⁇ "
    } else if (piece.type != PieceType::Control) {
      text += piece.text;
    }
  }
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, kSpace.size(), kSpace) == 0) {
      decoded += ' ';
      i += kSpace.size() - 1;
    } else {
      decoded += text[i];
    }
  }
  // The dummy prefix is not part of the text.
  if (_options.add_dummy_prefix && !decoded.empty() && decoded.front() == ' ') decoded.erase(0, 1);
  return decoded;
}

std::optional<int32_t> SentencePieceBpe::token_id(const std::string& token) const {
  if (const auto special = _specials.find(token)) return special;
  const auto it = _all_ids.find(token);
  if (it == _all_ids.end()) return std::nullopt;
  return it->second;
}

}  // namespace ptq::tokenizer
