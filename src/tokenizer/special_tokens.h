#pragma once
// Added tokens ("<|endoftext|>", "<s>", "<think>", ...) that Hugging Face matches verbatim in
// the input before normalization and pre-tokenization. Special ones (control tokens) are left out
// of decoded text, as decode(skip_special_tokens=True) does; the others decode to their content.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ptq::tokenizer {

class SpecialTokens {
 public:
  // Either a matched token (`id` set) or the plain text between matches.
  struct Segment {
    std::string_view text;
    std::optional<int32_t> id;
  };

  void add(const std::string& content, int32_t id, bool special = true);
  bool contains_id(int32_t id) const;
  bool empty() const { return _ids.empty(); }
  int64_t size() const { return static_cast<int64_t>(_contents.size()); }
  // The content of token `id`, or nullptr when `id` is not an added token.
  const std::string* content(int32_t id) const;
  bool is_special(int32_t id) const { return _special_ids.count(id) > 0; }
  std::optional<int32_t> find(const std::string& content) const;
  // The largest id + 1, or 0 when empty.
  int64_t id_end() const;

  // `text` cut at each occurrence of a token, scanning left to right; at one position the
  // longest token wins.
  std::vector<Segment> split(std::string_view text) const;

 private:
  std::unordered_map<std::string, int32_t> _ids;
  std::unordered_map<int32_t, std::string> _contents;
  std::unordered_set<int32_t> _special_ids;
};

}  // namespace ptq::tokenizer
