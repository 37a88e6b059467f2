#pragma once
// Pre-tokenization by a regular expression, as Hugging Face's Split(behavior="Isolated") and
// GPT-2's re.findall do it: every match is a piece, and so is any text between matches.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ptq::tokenizer {

// The pre-tokenizer regex of GPT-2 (openai/gpt-2 encoder.py), shared by every ByteLevel BPE.
inline constexpr const char* kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class RegexSplitter {
 public:
  // Compiles `pattern` with Unicode properties (PCRE2_UTF | PCRE2_UCP), JIT when available.
  // Throws InputError when the pattern does not compile.
  explicit RegexSplitter(const std::string& pattern);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Throws InputError when `text` is not valid UTF-8.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  struct Compiled;
  std::unique_ptr<Compiled> _compiled;
};

}  // namespace ptq::tokenizer
