// tiktoken rank files: Llama 3's tokenizer.model and Qwen's qwen.tiktoken, against llama.cpp's
// expected ids (computed by llama.cpp's maintainers with the Hugging Face tokenizers).

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>

#include "data/input_error.h"
#include "ptq/tokenizer/tokenizer.h"
#include "test_utils.h"
#include "tokenizer/expected_ids.h"

namespace ptq::tokenizer {
namespace {

namespace fs = std::filesystem;
using test::tokenizers_dir;

fs::path llama3_model() { return tokenizers_dir() / "llama3" / "tokenizer.model"; }
fs::path qwen_tiktoken() { return tokenizers_dir() / "qwen2" / "qwen.tiktoken"; }

TEST(TiktokenModel, Llama3MatchesLlamaCppIds) {
  const auto start = std::chrono::steady_clock::now();
  const auto tokenizer = load_tokenizer(llama3_model());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 2.0) << "loading 128,000 ranks";
  const auto cases =
      test::read_llama_cpp_cases(tokenizers_dir() / "llama3" / "ggml-vocab-llama-bpe.gguf.inp");
  ASSERT_EQ(cases.size(), 46u);
  EXPECT_EQ(test::count_exact(*tokenizer, cases), 46u);
}

// llama-models models/llama3/tests/api/test_tokenizer.py: "This is a test sentence." with BOS
// and EOS is [128000, 2028, 374, 264, 1296, 11914, 13, 128001].
TEST(TiktokenModel, Llama3SpecialTokens) {
  const auto tokenizer = load_tokenizer(llama3_model());
  EXPECT_EQ(tokenizer->vocab_size(), 128256);
  EXPECT_EQ(tokenizer->bos_id(), 128000);
  EXPECT_EQ(tokenizer->eos_id(), 128001);
  EXPECT_EQ(tokenizer->encode("This is a test sentence."),
            (std::vector<int32_t>{128000, 2028, 374, 264, 1296, 11914, 13}));
  // Every name and id of the separately written list in ../shared (llama-models' order).
  const auto listed = nlohmann::json::parse(
      test::read_file(tokenizers_dir() / "llama3" / "llama3_special_tokens.json"));
  ASSERT_EQ(listed.at("special_tokens").size(), 256u);
  for (const auto& [name, id] : listed.at("special_tokens").items()) {
    EXPECT_EQ(tokenizer->token_id(name), id.get<int32_t>()) << name;
  }
  // Specials in the text are matched whole, as the Hugging Face tokenizer does; decode skips them.
  const std::vector<int32_t> chat =
      tokenizer->encode_raw("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
  EXPECT_EQ(chat, (std::vector<int32_t>{128006, 882, 128007, 271, 13347, 128009}));
  EXPECT_EQ(tokenizer->decode(chat), "user\n\nHi");
}

// The tokenizer_config.json of a Hugging Face Llama 3.0 directory names the specials itself
// (3.0 names: 128002-128005 and 128008+ reserved) and its EOS; that wins over the built-in names.
TEST(TiktokenModel, Llama3DirectoryConfigOverridesSpecials) {
  nlohmann::json decoder = nlohmann::json::object();
  const std::map<int, std::string> named = {{128000, "<|begin_of_text|>"},
                                            {128001, "<|end_of_text|>"},
                                            {128006, "<|start_header_id|>"},
                                            {128007, "<|end_header_id|>"},
                                            {128009, "<|eot_id|>"}};
  for (int id = 128000, reserved = 0; id < 128256; ++id) {
    const auto it = named.find(id);
    const std::string content =
        it != named.end() ? it->second
                          : "<|reserved_special_token_" + std::to_string(reserved++) + "|>";
    decoder[std::to_string(id)] = {{"content", content}, {"special", true}};
  }
  test::TempDir dir;
  fs::create_symlink(llama3_model(), dir / "tokenizer.model");
  test::write_file(dir / "tokenizer_config.json", nlohmann::json{{"added_tokens_decoder", decoder},
                                                                 {"bos_token", "<|begin_of_text|>"},
                                                                 {"eos_token", "<|eot_id|>"}}
                                                      .dump());
  const auto tokenizer = load_tokenizer(dir.path());
  EXPECT_EQ(tokenizer->vocab_size(), 128256);
  EXPECT_EQ(tokenizer->eos_id(), 128009);
  EXPECT_EQ(tokenizer->token_id("<|reserved_special_token_5|>"), 128010);
  EXPECT_FALSE(tokenizer->token_id("<|python_tag|>"));
  EXPECT_EQ(tokenizer->encode("Hi"), (std::vector<int32_t>{128000, 13347}));
}

TEST(TiktokenModel, QwenMatchesLlamaCppIds) {
  const auto tokenizer = load_tokenizer(qwen_tiktoken());
  for (const char* name : {"ggml-vocab-qwen2.gguf.inp", "ggml-vocab-deepseek-r1-qwen.gguf.inp"}) {
    const auto cases = test::read_llama_cpp_cases(tokenizers_dir() / "qwen2" / name);
    ASSERT_EQ(cases.size(), 46u) << name;
    EXPECT_EQ(test::count_exact(*tokenizer, cases), 46u) << name;
  }
}

// Qwen's tokenization_qwen.py: <|endoftext|>, <|im_start|>, <|im_end|> from 151643, no BOS;
// alibaba/rtp-llm's Qwen2 test: "<|im_start|>hello<|im_end|>" -> [151644, 14990, 151645].
TEST(TiktokenModel, QwenSpecialTokensAndNfc) {
  const auto tokenizer = load_tokenizer(qwen_tiktoken());
  EXPECT_FALSE(tokenizer->add_bos());
  EXPECT_EQ(tokenizer->eos_id(), 151643);
  EXPECT_EQ(tokenizer->token_id("<|extra_204|>"), 151643 + 3 + 204);
  EXPECT_EQ(tokenizer->encode("<|im_start|>hello<|im_end|>"),
            (std::vector<int32_t>{151644, 14990, 151645}));
  // "e" + U+0301 (combining acute) is "é" after NFC.
  EXPECT_EQ(tokenizer->encode("caf\x65\xCC\x81"), tokenizer->encode("caf\xC3\xA9"));
}

// The InputError a directory whose tokenizer.model holds `content` gives.
std::string rank_file_error(const std::string& content) {
  test::TempDir dir;
  test::write_file(dir / "tokenizer.model", content);
  return test::input_error([&] { load_tokenizer(dir.path()); });
}

TEST(TiktokenModel, RejectsUnknownAndMalformedRankFiles) {
  // "IQ==" is "!", "Ig==" is '"': a valid rank file of no known family.
  const std::string unknown = rank_file_error("IQ== 0\nIg== 1\n");
  EXPECT_TRUE(test::mentions(unknown, "tokenizer.model")) << unknown;
  EXPECT_TRUE(test::mentions(unknown, "Llama 3")) << unknown;
  EXPECT_TRUE(test::mentions(rank_file_error("IQ== 0\nIg== 2\n"), "no token has rank 1"));
  EXPECT_TRUE(test::mentions(rank_file_error("IQ== 0\nIg== 2000000000\n"), "tokenizer.model:2"));
  EXPECT_TRUE(test::mentions(rank_file_error("IQ== 0\nIQ== 0\n"), "appears twice"));
  EXPECT_TRUE(test::mentions(rank_file_error("IQ== 0\nI!== 1\n"), "tokenizer.model:2"));
}

}  // namespace
}  // namespace ptq::tokenizer
