#pragma once
// Added tokens ("<|endoftext|>", "<s>", ...) that Hugging Face matches verbatim in the input
// before normalization and pre-tokenization.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ptq::tokenizer {

class SpecialTokens {
 public:
  // Either a matched token (`id` set) or the plain text between matches.
  struct Segment {
    std::string_view text;
    std::optional<int32_t> id;
  };

  void add(const std::string& content, int32_t id);
  bool contains_id(int32_t id) const;
  std::optional<int32_t> find(const std::string& content) const;
  // The largest id + 1, or 0 when empty.
  int64_t id_end() const;

  // `text` cut at each occurrence of a token, scanning left to right; at one position the
  // longest token wins.
  std::vector<Segment> split(std::string_view text) const;

 private:
  std::unordered_map<std::string, int32_t> _ids;
  std::unordered_map<int32_t, std::string> _contents;
};

}  // namespace ptq::tokenizer
