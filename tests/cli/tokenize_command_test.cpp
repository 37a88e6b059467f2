// `ptq tokenize` end to end: the acceptance anchors through the executable.

#include <gtest/gtest.h>

#include <filesystem>

#include "data/shared_data_env.h"
#include "ptq/common/error.h"
#include "test_utils.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;
using test::run_cli;

class TokenizeCommand : public ::testing::Test {
 protected:
  void SetUp() override { test::use_shared_data_dir(); }

  static std::string gpt2() { return (test::shared_dir() / "data" / "gpt2-tokenizer").string(); }
  static std::string llama() {
    return (test::shared_dir() / "models" / "llama2-tokenizer" / "tokenizer.model").string();
  }
};

TEST_F(TokenizeCommand, CountsGptTwoWikiText2) {
  const auto plain = run_cli({"tokenize", "--model", gpt2(), "--dataset", "wikitext2", "--count"});
  EXPECT_EQ(plain.exit_code, kExitOk) << plain.err;
  EXPECT_EQ(plain.out, "287644\n");
  const auto with_bos =
      run_cli({"tokenize", "--model", gpt2(), "--dataset", "wikitext2", "--count", "--add-bos"});
  EXPECT_EQ(with_bos.exit_code, kExitOk) << with_bos.err;
  EXPECT_EQ(with_bos.out, "287645\n");
}

// OPT's way: its tokenizer_config.json asks for the BOS.
TEST_F(TokenizeCommand, CountsWithConfigBos) {
  test::TempDir dir;
  fs::create_symlink(fs::path(gpt2()) / "vocab.json", dir / "vocab.json");
  fs::create_symlink(fs::path(gpt2()) / "merges.txt", dir / "merges.txt");
  test::write_file(dir / "tokenizer_config.json", R"({"add_bos_token": true})");
  const auto result =
      run_cli({"tokenize", "--model", dir.path().string(), "--text", "Hello world"});
  EXPECT_EQ(result.exit_code, kExitOk) << result.err;
  EXPECT_EQ(result.out, "50256 15496 995\n");
}

// --no-add-bos (341,468) is checked on short text in PrintsIds: the full text takes seconds.
TEST_F(TokenizeCommand, CountsLlamaWikiText2) {
  const auto result =
      run_cli({"tokenize", "--tokenizer", llama(), "--dataset", "wikitext2", "--count"});
  EXPECT_EQ(result.exit_code, kExitOk) << result.err;
  EXPECT_EQ(result.out, "341469\n");
}

// Ids from python3-sentencepiece (see tests/tokenizer/sentencepiece_bpe_test.cpp).
TEST_F(TokenizeCommand, PrintsIds) {
  const auto result = run_cli({"tokenize", "--tokenizer", llama(), "--text", "Hello world"});
  EXPECT_EQ(result.exit_code, kExitOk) << result.err;
  EXPECT_EQ(result.out, "1 15043 3186\n");
  const auto plain =
      run_cli({"tokenize", "--tokenizer", llama(), "--text", "Hello world", "--no-add-bos"});
  EXPECT_EQ(plain.out, "15043 3186\n");
}

// A tiktoken rank file and a sentencepiece model, both named tokenizer.model (see
// tests/tokenizer/tiktoken_model_test.cpp and sentencepiece_model_test.cpp for the ids' origin).
TEST_F(TokenizeCommand, ReadsLlama3AndMistralTokenizerModels) {
  const fs::path tokenizers = test::shared_dir() / "data" / "tokenizers";
  test::TempDir llama3;
  fs::create_symlink(tokenizers / "llama3" / "tokenizer.model", llama3 / "tokenizer.model");
  const auto llama = run_cli(
      {"tokenize", "--model", llama3.path().string(), "--text", "This is a test sentence."});
  EXPECT_EQ(llama.exit_code, kExitOk) << llama.err;
  EXPECT_EQ(llama.out, "128000 2028 374 264 1296 11914 13\n");
  test::TempDir mistral;
  fs::create_symlink(tokenizers / "mistral" / "mistral_instruct_tokenizer_240323.model.v3",
                     mistral / "tokenizer.model");
  const auto v3 = run_cli(
      {"tokenize", "--model", mistral.path().string(), "--text", "What's the result of 5 + 5?"});
  EXPECT_EQ(v3.exit_code, kExitOk) << v3.err;
  EXPECT_EQ(v3.out, "1 2592 29510 29481 1040 1972 1070 29473 29550 1416 29473 29550 29572\n");
}

TEST_F(TokenizeCommand, BadInputExitsTwo) {
  const auto missing = run_cli({"tokenize", "--tokenizer", "/nonexistent/tok", "--text", "x"});
  EXPECT_EQ(missing.exit_code, kExitInput);
  EXPECT_NE(missing.err.find("/nonexistent/tok"), std::string::npos) << missing.err;
  const auto no_data = run_cli({"tokenize", "--model", gpt2(), "--dataset", "/nonexistent.txt"});
  EXPECT_EQ(no_data.exit_code, kExitInput);
  EXPECT_NE(no_data.err.find("/nonexistent.txt"), std::string::npos) << no_data.err;
  EXPECT_EQ(run_cli({"tokenize", "--model", gpt2()}).exit_code, kExitInput);
  test::TempDir dir;
  test::write_file(dir / "tokenizer.model", "not a tokenizer\n");
  const auto unknown = run_cli({"tokenize", "--model", dir.path().string(), "--text", "x"});
  EXPECT_EQ(unknown.exit_code, kExitInput);
  EXPECT_NE(unknown.err.find("tokenizer.model"), std::string::npos) << unknown.err;
  EXPECT_EQ(run_cli({"tokenize", "--model", gpt2(), "--text", "x", "--add-bos", "--no-add-bos"})
                .exit_code,
            kExitInput);
}

}  // namespace
}  // namespace ptq
