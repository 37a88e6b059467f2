// vocab.json + merges.txt pairs of three families against llama.cpp's and ggml's expected ids:
// Qwen2/2.5/3 (in a Hugging Face directory with its tokenizer_config.json), OPT (RoBERTa's id
// order) and GPT-2.

#include <gtest/gtest.h>

#include <filesystem>

#include "data/input_error.h"
#include "ptq/tokenizer/tokenizer.h"
#include "test_utils.h"
#include "tokenizer/expected_ids.h"

namespace ptq::tokenizer {
namespace {

namespace fs = std::filesystem;
using test::tokenizers_dir;

// A Qwen2.5/Qwen3 model directory as Hugging Face lays it out: vocab.json, merges.txt and a
// tokenizer_config.json with its class, added tokens and BOS/EOS (the added tokens as transcribed
// from a Qwen2.5-VL tokenizer_config.json into qwen_added_tokens.json).
void write_qwen2_dir(const fs::path& dir) {
  const fs::path qwen = tokenizers_dir() / "qwen2";
  fs::create_symlink(qwen / "derived_vocab.json", dir / "vocab.json");
  fs::create_symlink(qwen / "derived_merges.txt", dir / "merges.txt");
  const auto added = nlohmann::json::parse(test::read_file(qwen / "qwen_added_tokens.json"));
  nlohmann::json decoder = nlohmann::json::object();
  for (const auto& token : added.at("added_tokens")) {
    decoder[std::to_string(token.at("id").get<int>())] = {{"content", token.at("content")},
                                                          {"special", token.at("special")}};
  }
  const nlohmann::json config = {{"tokenizer_class", "Qwen2Tokenizer"},
                                 {"added_tokens_decoder", decoder},
                                 {"bos_token", nullptr},
                                 {"eos_token", "<|im_end|>"}};
  test::write_file(dir / "tokenizer_config.json", config.dump());
}

TEST(VocabMerges, Qwen2MatchesLlamaCppIds) {
  test::TempDir dir;
  write_qwen2_dir(dir.path());
  const auto tokenizer = load_tokenizer(dir.path());
  for (const char* name : {"ggml-vocab-qwen2.gguf.inp", "ggml-vocab-deepseek-r1-qwen.gguf.inp"}) {
    const auto cases = test::read_llama_cpp_cases(tokenizers_dir() / "qwen2" / name);
    ASSERT_EQ(cases.size(), 46u) << name;
    EXPECT_EQ(test::count_exact(*tokenizer, cases), 46u) << name;
  }
}

TEST(VocabMerges, Qwen2AddedTokensAndNfc) {
  test::TempDir dir;
  write_qwen2_dir(dir.path());
  const auto tokenizer = load_tokenizer(dir.path());
  EXPECT_EQ(tokenizer->vocab_size(), 151669);
  EXPECT_FALSE(tokenizer->bos_id());
  EXPECT_EQ(tokenizer->eos_id(), 151645);
  const std::vector<int32_t> ids = tokenizer->encode("<|im_start|>hello<|im_end|><think>");
  EXPECT_EQ(ids, (std::vector<int32_t>{151644, 14990, 151645, 151667}));
  // Special tokens are dropped from decoded text, the others (<think>) kept.
  EXPECT_EQ(tokenizer->decode(ids), "hello<think>");
  EXPECT_EQ(tokenizer->encode("caf\x65\xCC\x81"), tokenizer->encode("caf\xC3\xA9"));
}

TEST(VocabMerges, RejectsUnknownTokenizerClass) {
  test::TempDir dir;
  write_qwen2_dir(dir.path());
  test::write_file(dir / "tokenizer_config.json", R"({"tokenizer_class": "T5Tokenizer"})");
  const std::string error = test::input_error([&] { load_tokenizer(dir.path()); });
  EXPECT_TRUE(test::mentions(error, "T5Tokenizer")) << error;
  EXPECT_TRUE(test::mentions(error, "merges.txt")) << error;
}

// OPT's metaseq assets under their own names: the vocab is found by content, its merges by name.
TEST(VocabMerges, OptMatchesRobertaIds) {
  const auto tokenizer = load_tokenizer(tokenizers_dir() / "opt" / "gpt2-vocab.json");
  EXPECT_EQ(tokenizer->vocab_size(), 50265);
  const auto cases =
      test::read_llama_cpp_cases(tokenizers_dir() / "opt" / "ggml-vocab-roberta-bpe.gguf.inp");
  ASSERT_EQ(cases.size(), 46u);
  EXPECT_EQ(test::count_exact(*tokenizer, cases), 46u);
}

TEST(VocabMerges, Gpt2MatchesLlamaCppAndGgmlIds) {
  const auto tokenizer = load_tokenizer(test::shared_dir() / "data" / "gpt2-tokenizer");
  const auto cases =
      test::read_llama_cpp_cases(tokenizers_dir() / "opt" / "ggml-vocab-gpt-2.gguf.inp");
  ASSERT_EQ(cases.size(), 46u);
  EXPECT_EQ(test::count_exact(*tokenizer, cases), 46u);
  const auto prompts = test::read_ggml_prompts(tokenizers_dir() / "opt" / "ggml-prompts-gpt-2.txt");
  ASSERT_EQ(prompts.size(), 100u);
  EXPECT_EQ(test::count_exact(*tokenizer, prompts), 100u);
}

}  // namespace
}  // namespace ptq::tokenizer
