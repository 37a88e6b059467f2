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

TEST_F(TokenizeCommand, BadInputExitsTwo) {
  const auto missing = run_cli({"tokenize", "--tokenizer", "/nonexistent/tok", "--text", "x"});
  EXPECT_EQ(missing.exit_code, kExitInput);
  EXPECT_NE(missing.err.find("/nonexistent/tok"), std::string::npos) << missing.err;
  const auto no_data = run_cli({"tokenize", "--model", gpt2(), "--dataset", "/nonexistent.txt"});
  EXPECT_EQ(no_data.exit_code, kExitInput);
  EXPECT_NE(no_data.err.find("/nonexistent.txt"), std::string::npos) << no_data.err;
  EXPECT_EQ(run_cli({"tokenize", "--model", gpt2()}).exit_code, kExitInput);
  EXPECT_EQ(run_cli({"tokenize", "--model", gpt2(), "--text", "x", "--add-bos", "--no-add-bos"})
                .exit_code,
            kExitInput);
}

}  // namespace
}  // namespace ptq
