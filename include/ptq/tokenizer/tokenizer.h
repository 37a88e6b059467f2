#pragma once
// Text <-> token ids, as the model's own Hugging Face tokenizer does it.
//
//   auto tok = ptq::tokenizer::load_tokenizer("models/opt-125m");  // directory or file
//   std::vector<int32_t> ids = tok->encode(text);  // adds BOS when the tokenizer does
//
// Supported (docs/tokenizers.md, per family): tokenizer.json (BPE with the ByteLevel
// pre-tokenizer, its split regex and NFC; BPE with Metaspace / byte fallback), vocab.json +
// merges.txt (GPT-2 style; Qwen2's by tokenizer_class), sentencepiece models (BPE) and tiktoken
// rank files (Llama 3, Qwen), told apart by content. BOS/EOS handling follows
// tokenizer_config.json; added tokens come from tokenizer.json or, for the other formats, from
// added_tokens.json and tokenizer_config.json's added_tokens_decoder.
//
// Invariants:
//   1. encode_raw() never adds special tokens; encode() adds at most one BOS, at position 0.
//   2. decode() skips special (control) tokens, as decode(skip_special_tokens=True) does.
//   3. A tokenizer is immutable once loaded apart from set_add_bos(); encoding is thread-safe.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ptq::tokenizer {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Encodes `text` as a Hugging Face tokenizer called with add_special_tokens=True:
  // a BOS is prepended when add_bos() is true.
  std::vector<int32_t> encode(const std::string& text) const;
  // Encodes without any special token added.
  virtual std::vector<int32_t> encode_raw(const std::string& text) const = 0;
  // Throws InputError for an id outside [0, vocab_size()).
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  // The id of a whole token (e.g. "</s>"), if the vocabulary has it.
  virtual std::optional<int32_t> token_id(const std::string& token) const = 0;

  std::optional<int32_t> bos_id() const { return _bos_id; }
  std::optional<int32_t> eos_id() const { return _eos_id; }
  bool add_bos() const { return _add_bos && _bos_id.has_value(); }
  void set_add_bos(bool add) { _add_bos = add; }
  void set_bos_id(std::optional<int32_t> id) { _bos_id = id; }
  void set_eos_id(std::optional<int32_t> id) { _eos_id = id; }

 protected:
  std::optional<int32_t> _bos_id;
  std::optional<int32_t> _eos_id;
  bool _add_bos = false;
};

// `path`: a model directory (tokenizer.json, else tokenizer.model, else qwen.tiktoken, else
// vocab.json + merges.txt; tokenizer_config.json read when present) or one of those files.
// Throws InputError naming the file and what is wrong, also for a format it does not read.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace ptq::tokenizer
