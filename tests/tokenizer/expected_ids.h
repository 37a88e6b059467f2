#pragma once
// Expected-id files the tokenizer tests compare with: llama.cpp's vocab tests
// (models/ggml-vocab-*.gguf.inp / .out), ggml's prompt files (examples/prompts/*.txt) and the
// sentencepiece references of tests/reference/make_tokenizer_fixtures.py, all under
// ../shared/data/tokenizers or the build's fixtures.

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ptq/tokenizer/tokenizer.h"
#include "test_utils.h"

namespace ptq::test {

struct IdCase {
  std::string text;
  std::vector<int32_t> ids;  // without BOS / EOS
};

inline std::filesystem::path tokenizers_dir() { return shared_dir() / "data" / "tokenizers"; }

inline std::vector<int32_t> parse_ids(const std::string& text, char separator) {
  std::vector<int32_t> ids;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, separator)) {
    if (!item.empty()) ids.push_back(std::stoi(item));
  }
  return ids;
}

// `inp`: strings each followed by "\n__ggml_vocab_test__\n"; the .out beside it: line k holds the
// ids of string k, space-separated.
inline std::vector<IdCase> read_llama_cpp_cases(const std::filesystem::path& inp) {
  const std::string separator = "\n__ggml_vocab_test__\n";
  const std::string text = read_file(inp);
  std::istringstream out(read_file(inp.string().substr(0, inp.string().size() - 4) + ".out"));
  std::vector<IdCase> cases;
  for (size_t start = 0, end; (end = text.find(separator, start)) != std::string::npos;
       start = end + separator.size()) {
    std::string line;
    std::getline(out, line);
    cases.push_back({text.substr(start, end - start), parse_ids(line, ' ')});
  }
  return cases;
}

// One "text => id,id,..." per line.
inline std::vector<IdCase> read_ggml_prompts(const std::filesystem::path& path) {
  std::istringstream lines(read_file(path));
  std::vector<IdCase> cases;
  for (std::string line; std::getline(lines, line);) {
    const size_t arrow = line.rfind(" => ");
    if (arrow == std::string::npos) continue;
    cases.push_back({line.substr(0, arrow), parse_ids(line.substr(arrow + 4), ',')});
  }
  return cases;
}

// {"cases": [{"text": ..., "ids": [...]}]} as make_tokenizer_fixtures.py writes it.
inline std::vector<IdCase> read_reference_cases(const std::filesystem::path& path) {
  const auto root = nlohmann::json::parse(read_file(path));
  std::vector<IdCase> cases;
  for (const auto& c : root.at("cases")) {
    cases.push_back({c.at("text").get<std::string>(), c.at("ids").get<std::vector<int32_t>>()});
  }
  return cases;
}

// How many of `cases` the tokenizer encodes (without BOS) exactly; each miss is reported.
inline size_t count_exact(const tokenizer::Tokenizer& tokenizer, const std::vector<IdCase>& cases) {
  size_t exact = 0;
  for (const IdCase& c : cases) {
    const std::vector<int32_t> ids = tokenizer.encode_raw(c.text);
    EXPECT_EQ(ids, c.ids) << "text: \"" << c.text << "\"";
    exact += ids == c.ids;
  }
  return exact;
}

}  // namespace ptq::test
