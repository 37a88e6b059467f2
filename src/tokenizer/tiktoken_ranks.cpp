#include "tokenizer/tiktoken_ranks.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "io/read_file.h"
#include "ptq/common/error.h"

namespace ptq::tokenizer {
namespace {

constexpr int8_t kNotBase64 = -1;

const std::array<int8_t, 256>& base64_values() {
  static const std::array<int8_t, 256> values = [] {
    std::array<int8_t, 256> table;
    table.fill(kNotBase64);
    const std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < alphabet.size(); ++i) {
      table[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
    }
    return table;
  }();
  return values;
}

// RFC 4648 base64 with padding into `out`; false for anything else.
bool decode_base64(std::string_view text, std::string& out) {
  out.clear();
  if (text.empty() || text.size() % 4 != 0) return false;
  size_t padding = 0;
  while (padding < 2 && text[text.size() - 1 - padding] == '=') ++padding;
  uint32_t bits = 0;
  int bit_count = 0;
  for (size_t i = 0; i < text.size() - padding; ++i) {
    const int8_t value = base64_values()[static_cast<unsigned char>(text[i])];
    if (value == kNotBase64) return false;
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out += static_cast<char>((bits >> bit_count) & 0xFF);
    }
  }
  return true;
}

struct RankLine {
  std::string_view token;  // base64
  int64_t rank = -1;
};

bool parse_line(std::string_view line, RankLine& parsed) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0) return false;
  parsed.token = line.substr(0, space);
  const std::string_view rank = line.substr(space + 1);
  const auto [end, error] = std::from_chars(rank.data(), rank.data() + rank.size(), parsed.rank);
  return error == std::errc() && end == rank.data() + rank.size() && parsed.rank >= 0;
}

}  // namespace

bool looks_like_tiktoken_ranks(std::string_view head) {
  RankLine parsed;
  std::string bytes;
  return parse_line(head.substr(0, head.find('\n')), parsed) && decode_base64(parsed.token, bytes);
}

std::vector<std::string> read_tiktoken_ranks(const std::string& path) {
  const std::string text = io::read_file_bytes(path);
  const auto line_count = static_cast<int64_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  std::vector<std::string> tokens;
  std::vector<bool> seen;
  size_t number = 0;
  for (size_t start = 0; start < text.size();) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++number;
    if (line.empty()) continue;
    RankLine parsed;
    std::string bytes;
    PTQ_CHECK_INPUT(parse_line(line, parsed) && decode_base64(parsed.token, bytes), path, ":",
                    number, ": expected \"base64-token rank\", got \"", line, "\"");
    // One token per line: a rank beyond the line count would leave a gap.
    PTQ_CHECK_INPUT(parsed.rank < line_count, path, ":", number, ": rank ", parsed.rank,
                    " exceeds the number of lines");
    const auto rank = static_cast<size_t>(parsed.rank);
    if (rank >= tokens.size()) {
      tokens.resize(rank + 1);
      seen.resize(rank + 1, false);
    }
    PTQ_CHECK_INPUT(!seen[rank], path, ":", number, ": rank ", rank, " appears twice");
    seen[rank] = true;
    tokens[rank] = std::move(bytes);
  }
  for (size_t rank = 0; rank < seen.size(); ++rank) {
    PTQ_CHECK_INPUT(seen[rank], path, ": no token has rank ", rank, " (ranks must run 0..",
                    seen.size() - 1, ")");
  }
  PTQ_CHECK_INPUT(!tokens.empty(), path, ": empty tiktoken rank file");
  return tokens;
}

}  // namespace ptq::tokenizer
