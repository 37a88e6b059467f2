#pragma once
// Small hand-made tokenizer.json documents shared by the tokenizer tests and the parser fuzzer.

#include <nlohmann/json.hpp>
#include <string>

namespace ptq::test {

// A hand-made LLaMA-style tokenizer.json; expected ids worked out by hand from its merges.
inline nlohmann::json metaspace_tokenizer_json() {
  const std::string s = "\u2581";
  using nlohmann::json;
  return {
      {"added_tokens",
       {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
        {{"id", 1}, {"content", "<s>"}, {"special", true}},
        {{"id", 2}, {"content", "</s>"}, {"special", true}}}},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Prepend"}, {"prepend", s}},
          {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", s}}}}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}}},
      {"model",
       {{"type", "BPE"},
        {"byte_fallback", true},
        {"unk_token", "<unk>"},
        {"vocab",
         {{"<unk>", 0},
          {"<s>", 1},
          {"</s>", 2},
          {"<0x0A>", 3},
          {"<0xC3>", 4},
          {"<0xA9>", 5},
          {s, 6},
          {"a", 7},
          {"b", 8},
          {"c", 9},
          {s + "a", 10},
          {"ab", 11},
          {s + "ab", 12},
          {"bc", 13}}},
        {"merges", {s + " a", "a b", s + "a b", "b c"}}}},
  };
}

// The character GPT-2's byte-level alphabet uses for `byte` (bytes_to_unicode), in UTF-8:
// printable Latin-1 bytes stand for themselves, the other 68 map to U+0100 onwards in order.
inline std::string byte_level_char(int byte) {
  const auto printable = [](int b) {
    return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  };
  int code = byte;
  if (!printable(byte)) {
    code = 256;
    for (int b = 0; b < byte; ++b) code += printable(b) ? 0 : 1;
  }
  std::string utf8;
  if (code < 0x80) {
    utf8 += static_cast<char>(code);
  } else {
    utf8 += static_cast<char>(0xC0 | (code >> 6));
    utf8 += static_cast<char>(0x80 | (code & 0x3F));
  }
  return utf8;
}

// A byte-level BPE tokenizer.json (GPT-2 layout): the 256 byte tokens, ids 0-255, and three
// merges ("He", "ll", " w").
inline nlohmann::json byte_level_tokenizer_json() {
  using nlohmann::json;
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_level_char(b)] = b;
  const std::string space = byte_level_char(' ');
  vocab["He"] = 256;
  vocab["ll"] = 257;
  vocab[space + "w"] = 258;
  return {
      {"added_tokens", {{{"id", 259}, {"content", "<|endoftext|>"}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}}},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"H e", "l l", space + " w"}}}}};
}

}  // namespace ptq::test
