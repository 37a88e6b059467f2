#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "data/shared_data_env.h"
#include "ptq/common/error.h"
#include "ptq/data/dataset.h"
#include "ptq/tokenizer/tokenizer.h"
#include "test_utils.h"

namespace ptq::tokenizer {
namespace {

namespace fs = std::filesystem;
using test::shared_dir;

fs::path gpt2_dir() { return shared_dir() / "data" / "gpt2-tokenizer"; }

// The GPT-2 files beside a tokenizer_config.json, as OPT ships them (OPT adds a BOS).
void write_bos_config_copy(const fs::path& dir) {
  fs::create_symlink(gpt2_dir() / "vocab.json", dir / "vocab.json");
  fs::create_symlink(gpt2_dir() / "merges.txt", dir / "merges.txt");
  test::write_file(dir / "tokenizer_config.json",
                   R"({"add_bos_token": true, "bos_token": {"content": "<|endoftext|>"}})");
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// Expected ids from a throwaway Python run of the published algorithm (openai/gpt-2
// encoder.py: bytes_to_unicode, the split regex via the `regex` module, merges by rank) over
// shared/data/gpt2-tokenizer; "<|endoftext|>" is whole, as GPT2Tokenizer's special token.
const std::vector<Case>& gpt2_cases() {
  static const std::vector<Case> cases = {
      {"Hello world", {15496, 995}},
      {"  two  spaces\nnew line", {220, 734, 220, 9029, 198, 3605, 1627}},
      {"The year 2023 had 365 days.", {464, 614, 1160, 1954, 550, 21268, 1528, 13}},
      {"na\u00efve caf\u00e9 \u00fcber", {2616, 38776, 40304, 6184, 120, 527}},
      {"emoji \U0001F999 ok", {368, 31370, 12520, 99, 247, 12876}},
      {"I'm here, you'll see", {40, 1101, 994, 11, 345, 1183, 766}},
      {"#include <x>", {2, 17256, 1279, 87, 29}},
      {"#### Title", {4242, 11851}},  // uses the "#### ####"-style merges
      {" \n \n", {220, 198, 220, 198}},
      {"a\tb", {64, 197, 65}},
      {"end<|endoftext|>", {437, 50256}},
      {"", {}},
  };
  return cases;
}

TEST(BpeByteLevel, EncodesHandDerivedIds) {
  const auto tokenizer = load_tokenizer(gpt2_dir());
  for (const Case& c : gpt2_cases()) EXPECT_EQ(tokenizer->encode(c.text), c.ids) << c.text;
}

TEST(BpeByteLevel, DecodesBackToTheText) {
  const auto tokenizer = load_tokenizer(gpt2_dir());
  for (const Case& c : gpt2_cases()) {
    if (c.text.find("<|endoftext|>") != std::string::npos) continue;  // specials are skipped
    EXPECT_EQ(tokenizer->decode(c.ids), c.text);
  }
  EXPECT_EQ(tokenizer->decode({437, 50256}), "end");
  EXPECT_THROW(tokenizer->decode({50257}), InputError);
}

TEST(BpeByteLevel, GptTwoFilesAddNoBosByDefault) {
  const auto tokenizer = load_tokenizer(gpt2_dir() / "vocab.json");
  EXPECT_EQ(tokenizer->vocab_size(), 50257);
  EXPECT_EQ(tokenizer->bos_id(), 50256);
  EXPECT_EQ(tokenizer->eos_id(), 50256);
  EXPECT_FALSE(tokenizer->add_bos());
}

TEST(BpeByteLevel, TokenizerConfigAddsBos) {
  test::TempDir dir;
  write_bos_config_copy(dir.path());
  const auto tokenizer = load_tokenizer(dir.path());
  EXPECT_TRUE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->encode("Hello world"), (std::vector<int32_t>{50256, 15496, 995}));
  EXPECT_EQ(tokenizer->encode_raw("Hello world"), (std::vector<int32_t>{15496, 995}));
}

// The acceptance anchor (docs/test-data.md): 287,644 GPT-2 tokens for the
// GPTQ wikitext2 string, 287,645 with OPT's BOS.
TEST(BpeByteLevel, WikiText2AnchorCounts) {
  test::use_shared_data_dir();
  const std::string text = data::load_text("wikitext2");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(load_tokenizer(gpt2_dir())->encode(text).size(), 287644u);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 10.0) << "word cache not effective?";
  test::TempDir dir;
  write_bos_config_copy(dir.path());
  const std::vector<int32_t> with_bos = load_tokenizer(dir.path())->encode(text);
  EXPECT_EQ(with_bos.size(), 287645u);
  EXPECT_EQ(with_bos.front(), 50256);
}

}  // namespace
}  // namespace ptq::tokenizer
