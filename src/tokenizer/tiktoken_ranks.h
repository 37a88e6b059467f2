#pragma once
// tiktoken's BPE rank files (tiktoken load_tiktoken_bpe): one "base64(token bytes) rank" line per
// token, the rank being the token id. Llama 3 ships one as tokenizer.model, Qwen as qwen.tiktoken.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ptq::tokenizer {

// True when the first line of `head` (the file's first bytes) has the "base64 rank" form.
bool looks_like_tiktoken_ranks(std::string_view head);

// Token bytes by rank. Throws InputError naming `path` for a malformed line, a repeated rank
// or ranks that do not run 0..n-1 without gaps.
std::vector<std::string> read_tiktoken_ranks(const std::string& path);

}  // namespace ptq::tokenizer
