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

// Llama 3's (llama-models tokenizer.py pat_str; tiktoken's cl100k): letters with one leading
// non-letter, digits in groups of up to three, newlines apart.
inline constexpr const char* kLlama3SplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Qwen's (tokenization_qwen.py PAT_STR; Qwen2Tokenizer's PRETOKENIZE_REGEX): as Llama 3's, but
// every digit is a piece of its own.
inline constexpr const char* kQwenSplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

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
