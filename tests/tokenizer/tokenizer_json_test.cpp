#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ptq/common/error.h"
#include "ptq/tokenizer/tokenizer.h"
#include "test_utils.h"
#include "tokenizer/expected_ids.h"
#include "tokenizer/tokenizer_json_samples.h"

namespace ptq::tokenizer {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::metaspace_tokenizer_json;

// tokenizer.json for the shared GPT-2 files, laid out as Hugging Face writes GPT-2's.
json gpt2_tokenizer_json() {
  const fs::path dir = test::shared_dir() / "data" / "gpt2-tokenizer";
  std::istringstream lines(test::read_file(dir / "merges.txt"));
  json merges = json::array();
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) merges.push_back(line);
  }
  return {
      {"added_tokens", {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"post_processor", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"vocab", json::parse(test::read_file(dir / "vocab.json"))},
        {"merges", merges}}},
  };
}

std::unique_ptr<Tokenizer> load_json(const test::TempDir& dir, const json& document) {
  test::write_file(dir / "tokenizer.json", document.dump());
  return load_tokenizer(dir.path());
}

// Ids as in byte_level_bpe_test.cpp (the published GPT-2 algorithm run in Python).
TEST(TokenizerJson, ByteLevelMatchesGptTwoFiles) {
  test::TempDir dir;
  const auto tokenizer = load_json(dir, gpt2_tokenizer_json());
  EXPECT_EQ(tokenizer->encode("Hello world"), (std::vector<int32_t>{15496, 995}));
  EXPECT_EQ(tokenizer->encode("#### Title<|endoftext|>"),
            (std::vector<int32_t>{4242, 11851, 50256}));
  EXPECT_FALSE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->eos_id(), 50256);
}

TEST(TokenizerJson, ByteLevelWithSplitRegexAndPrefixSpace) {
  json document = gpt2_tokenizer_json();
  document["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern",
          {{"Regex",
            R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"}}},
         {"behavior", "Isolated"}},
        {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"use_regex", false}}}}};
  test::TempDir dir;
  // " Hello world" under the published algorithm.
  EXPECT_EQ(load_json(dir, document)->encode("Hello world"), (std::vector<int32_t>{18435, 995}));
}

// Hugging Face BPE ignore_merges (Llama 3's tokenizer.json): a word that is a token is that
// token, whether or not the merges would reach it.
TEST(TokenizerJson, IgnoreMergesTakesWholeTokens) {
  json document = gpt2_tokenizer_json();
  document["model"]["vocab"]["Helloworld"] = 50257;
  test::TempDir plain_dir;
  EXPECT_NE(load_json(plain_dir, document)->encode_raw("Helloworld"),
            (std::vector<int32_t>{50257}));
  document["model"]["ignore_merges"] = true;
  test::TempDir dir;
  EXPECT_EQ(load_json(dir, document)->encode_raw("Helloworld"), (std::vector<int32_t>{50257}));
}

// Pythia / GPT-NeoX-20B's tokenizer.json (NFC, ByteLevel, added space-run tokens) against ggml's
// 100 prompts, whose ids the ggml maintainers made with the Hugging Face tokenizer.
TEST(TokenizerJson, GptNeoxMatchesGgmlPrompts) {
  const fs::path dir = test::tokenizers_dir() / "gpt-neox";
  const auto tokenizer = load_tokenizer(dir / "20B_tokenizer.json");
  EXPECT_EQ(tokenizer->vocab_size(), 50277);
  const auto prompts = test::read_ggml_prompts(dir / "ggml-prompts-gpt-neox.txt");
  ASSERT_EQ(prompts.size(), 100u);
  EXPECT_EQ(test::count_exact(*tokenizer, prompts), 100u);
  // Non-special added tokens decode to their text.
  EXPECT_EQ(tokenizer->decode({50254}), std::string(24, ' '));
}

TEST(TokenizerJson, MetaspaceMergesByRankWithByteFallback) {
  test::TempDir dir;
  const auto tokenizer = load_json(dir, metaspace_tokenizer_json());
  // "▁ab▁c": ▁+a (rank 0), then ▁a+b (rank 2); "b▁" and "▁c" never merge.
  EXPECT_EQ(tokenizer->encode_raw("ab c"), (std::vector<int32_t>{12, 6, 9}));
  // "▁abc": ▁+a, ▁a+b (rank 2) before b+c (rank 3).
  EXPECT_EQ(tokenizer->encode_raw("abc"), (std::vector<int32_t>{12, 9}));
  // 'é' has no piece: its UTF-8 bytes C3 A9; '\n' is <0x0A>.
  EXPECT_EQ(tokenizer->encode_raw("\u00e9\n"), (std::vector<int32_t>{6, 4, 5, 3}));
  // Added tokens are matched first; the Prepend normalizer applies to each side.
  EXPECT_EQ(tokenizer->encode_raw("a</s>b"), (std::vector<int32_t>{10, 2, 6, 8}));
  EXPECT_EQ(tokenizer->decode({1, 12, 6, 9, 2}), "ab c");
  EXPECT_EQ(tokenizer->decode({6, 4, 5, 3}), "\u00e9\n");
}

TEST(TokenizerJson, TemplateProcessingAddsBos) {
  test::TempDir dir;
  const auto tokenizer = load_json(dir, metaspace_tokenizer_json());
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_EQ(tokenizer->encode("ab c"), (std::vector<int32_t>{1, 12, 6, 9}));
}

TEST(TokenizerJson, MetaspacePreTokenizerPrependsFirstOnly) {
  json document = metaspace_tokenizer_json();
  document["normalizer"] = nullptr;
  document["pre_tokenizer"] = {{"type", "Metaspace"},
                               {"replacement", "\u2581"},
                               {"prepend_scheme", "first"},
                               {"split", true}};
  test::TempDir dir;
  const auto tokenizer = load_json(dir, document);
  EXPECT_EQ(tokenizer->encode_raw("ab c"), (std::vector<int32_t>{12, 6, 9}));
  EXPECT_EQ(tokenizer->encode_raw("a</s>b"), (std::vector<int32_t>{10, 2, 8}));
}

TEST(TokenizerJson, UnknownPieceWithoutByteFallback) {
  json document = metaspace_tokenizer_json();
  document["model"]["byte_fallback"] = false;
  test::TempDir dir;
  EXPECT_EQ(load_json(dir, document)->encode_raw("\u00e9"), (std::vector<int32_t>{6, 0}));
}

TEST(TokenizerJson, RejectsUnsupportedFiles) {
  test::TempDir dir;
  json wordpiece = metaspace_tokenizer_json();
  wordpiece["model"]["type"] = "WordPiece";
  EXPECT_THROW(load_json(dir, wordpiece), InputError);
  json no_spaces = metaspace_tokenizer_json();
  no_spaces["normalizer"] = nullptr;
  EXPECT_THROW(load_json(dir, no_spaces), InputError);
  json bad_merge = metaspace_tokenizer_json();
  bad_merge["model"]["merges"] = {"a b c"};
  EXPECT_THROW(load_json(dir, bad_merge), InputError);
  json lowercase = gpt2_tokenizer_json();
  lowercase["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_THROW(load_json(dir, lowercase), InputError);
  test::write_file(dir / "tokenizer.json", "{\"model\": ");
  EXPECT_THROW(load_tokenizer(dir.path()), InputError);
}

}  // namespace
}  // namespace ptq::tokenizer
