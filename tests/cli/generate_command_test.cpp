// End-to-end checks of `ptq generate` on the real stories260K checkpoint (../shared/models).

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "eval/byte_tokenizer.h"
#include "test_utils.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;

// docs/test-data.md: greedy continuation of BOS by a reference
// implementation that matches llama2.c's run.c token for token.
const std::vector<int32_t> kReferenceGreedy = {
    1,   461, 461, 401, 401, 401, 461, 378, 455, 473, 456, 435, 299, 362, 409, 283, 264, 283, 452,
    288, 13,  431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 431, 293, 430, 417, 363,
    416, 315, 342, 418, 424, 400, 442, 402, 303, 266, 299, 374, 466, 396, 303, 271, 362, 390, 469,
    306, 469, 423, 314, 347, 305, 356, 333, 333, 333, 333, 425, 377, 354, 304, 304, 304, 304, 304,
    330, 341, 382, 468, 473, 473, 402, 402, 299, 299, 483, 456, 473, 456, 473, 465, 465, 465, 341,
    317, 436, 363, 454, 315, 377, 360, 408, 472, 453, 327, 316, 266, 417, 277, 299, 369, 283, 266,
    417, 264, 277, 277, 277, 439, 456, 407, 407, 309, 341, 436, 330, 466};

fs::path hf_model() { return shared_dir() / "models" / "stories260K-hf"; }

std::vector<int32_t> parse_ids(const std::string& out) {
  std::istringstream in(out);
  std::vector<int32_t> ids;
  for (int32_t id = 0; in >> id;) ids.push_back(id);
  return ids;
}

CliResult generate_ids(const fs::path& model, std::vector<std::string> extra) {
  std::vector<std::string> args = {"generate",     "--model", model.string(),
                                   "--prompt-ids", "1",       "--ids"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_cli(args);
}

TEST(GenerateCommand, GreedyFromBosReproducesTheReferenceIds) {
  TempDir tmp;
  const fs::path model = tmp / "m";
  const CliResult convert =
      run_cli({"convert", "--from", "llama2c",
               (shared_dir() / "models" / "stories260K" / "stories260K.bin").string(), "--out",
               model.string()});
  ASSERT_EQ(convert.exit_code, 0) << convert.err;
  const CliResult r = generate_ids(model, {"--max-new-tokens", "127", "--temperature", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_ids(r.out), kReferenceGreedy);
}

TEST(GenerateCommand, SamplingWithTheSameSeedRepeats) {
  const std::vector<std::string> options = {"--max-new-tokens", "64", "--temperature", "1",
                                            "--seed",           "42"};
  const CliResult first = generate_ids(hf_model(), options);
  const CliResult second = generate_ids(hf_model(), options);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(first.out, second.out);
  EXPECT_GT(parse_ids(first.out).size(), 1u);
  const CliResult other =
      generate_ids(hf_model(), {"--max-new-tokens", "64", "--temperature", "1", "--seed", "43"});
  EXPECT_NE(first.out, other.out);
}

TEST(GenerateCommand, TextPromptWithoutTokenizerSuggestsPromptIds) {
  const CliResult r =
      run_cli({"generate", "--model", hf_model().string(), "--prompt", "Once upon a time"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--prompt-ids"), std::string::npos) << r.err;
}

TEST(GenerateCommand, TextPromptIsEncodedWithTheTokenizer) {
  TempDir tmp;
  write_byte_tokenizer(tmp / "tokenizer");
  const CliResult r = run_cli({"generate", "--model", hf_model().string(), "--tokenizer",
                               (tmp / "tokenizer").string(), "--prompt", "Once", "--ids",
                               "--max-new-tokens", "3", "--ignore-eos"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<int32_t> ids = parse_ids(r.out);
  const std::vector<int32_t> prompt = byte_tokenizer_ids("Once");
  ASSERT_EQ(ids.size(), prompt.size() + 3) << r.out;
  EXPECT_TRUE(std::equal(prompt.begin(), prompt.end(), ids.begin())) << r.out;
}

TEST(GenerateCommand, PromptIdsOutsideTheVocabularyExitWithInputError) {
  const CliResult r =
      run_cli({"generate", "--model", hf_model().string(), "--prompt-ids", "1,512", "--ids"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

}  // namespace
}  // namespace ptq::test
