#pragma once
// A tiktoken rank file as a byte-level BPE tokenizer. The file holds only the ranks: the split
// regex, the normalization and the special tokens come from the model family, recognized by the
// vocabulary itself (docs/tokenizers.md):
//   Llama 3 / 3.1 / 3.2 / 3.3  128,000 ranks  (tokenizer.model of llama-models and HF original/)
//   Qwen (Qwen-7B, Qwen-VL)    151,643 ranks  (qwen.tiktoken)

#include <memory>
#include <string>

#include "ptq/tokenizer/tokenizer.h"
#include "tokenizer/special_tokens.h"

namespace ptq::tokenizer {

// `added`: the model directory's added tokens; when empty, the family's own special tokens
// (llama-models tokenizer.py, tokenization_qwen.py). Throws InputError naming `path` for a
// malformed file or a vocabulary of no known family.
std::unique_ptr<Tokenizer> load_tiktoken_model(const std::string& path, SpecialTokens added);

}  // namespace ptq::tokenizer
