#pragma once
// A GPT-2 style byte-level tokenizer without merges, for end-to-end tests of the text paths
// on models that ship no tokenizer: every byte b of the text becomes id b + 2, and
// tokenizer_config.json makes encode() prepend BOS = 1 (stories260K's BOS).

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_utils.h"

namespace ptq::test {

constexpr int32_t kByteTokenizerBos = 1;

inline int32_t byte_token_id(unsigned char byte) { return static_cast<int32_t>(byte) + 2; }

// GPT-2's bytes_to_unicode(): printable bytes stand for themselves, the others for
// 256, 257, ... in byte order; returned as UTF-8.
inline std::string gpt2_byte_symbol(int byte) {
  int code = byte;
  if (!((byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174)) {
    code = 256;
    for (int b = 0; b < byte; ++b) {
      code += !((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174);
    }
  }
  if (code < 0x80) return std::string(1, static_cast<char>(code));
  return {static_cast<char>(0xC0 | (code >> 6)), static_cast<char>(0x80 | (code & 0x3F))};
}

inline void write_byte_tokenizer(const std::filesystem::path& dir) {
  nlohmann::json vocab = {{"<|endoftext|>", kByteTokenizerBos}};
  for (int byte = 0; byte < 256; ++byte) {
    vocab[gpt2_byte_symbol(byte)] = byte_token_id(static_cast<unsigned char>(byte));
  }
  std::filesystem::create_directories(dir);
  write_file(dir / "vocab.json", vocab.dump());
  write_file(dir / "merges.txt", "#version: 0.2\n");
  write_file(dir / "tokenizer_config.json",
             R"({"add_bos_token": true, "bos_token": "<|endoftext|>"})");
}

// What encode() gives for `text` with this tokenizer.
inline std::vector<int32_t> byte_tokenizer_ids(const std::string& text) {
  std::vector<int32_t> ids = {kByteTokenizerBos};
  for (const char c : text) ids.push_back(byte_token_id(static_cast<unsigned char>(c)));
  return ids;
}

}  // namespace ptq::test
