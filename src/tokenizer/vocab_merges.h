#pragma once
// GPT-2 style vocab.json + merges.txt (GPT2Tokenizer, also OPT's files; Qwen2Tokenizer).

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "ptq/tokenizer/tokenizer.h"
#include "tokenizer/special_tokens.h"

namespace ptq::tokenizer {

// `vocab`: the parsed vocab.json at `vocab_path`. `tokenizer_class` (tokenizer_config.json's;
// empty when absent) picks the pre-tokenization: Qwen2Tokenizer[Fast] splits with Qwen's regex
// after NFC; GPT-2's regex otherwise. `added`: the directory's added tokens. "<|endoftext|>",
// when the vocabulary has it, is matched whole and is the BOS and EOS, as in GPT2Tokenizer; no BOS
// is added unless tokenizer_config.json says so.
std::unique_ptr<Tokenizer> load_vocab_merges(const nlohmann::json& vocab,
                                             const std::string& vocab_path,
                                             const std::string& merges_path,
                                             const std::string& tokenizer_class,
                                             SpecialTokens added);

}  // namespace ptq::tokenizer
