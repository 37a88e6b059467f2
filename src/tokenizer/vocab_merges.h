#pragma once
// GPT-2 style vocab.json + merges.txt (GPT2Tokenizer; also OPT's files).

#include <memory>
#include <string>

#include "ptq/tokenizer/tokenizer.h"

namespace ptq::tokenizer {

// "<|endoftext|>", when the vocabulary has it, is matched whole and is the BOS and EOS, as in
// GPT2Tokenizer; no BOS is added unless tokenizer_config.json says so.
std::unique_ptr<Tokenizer> load_vocab_merges(const std::string& vocab_path,
                                             const std::string& merges_path);

}  // namespace ptq::tokenizer
