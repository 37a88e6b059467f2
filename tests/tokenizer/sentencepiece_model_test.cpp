// Sentencepiece tokenizer.model files of three families: Mistral v1/v2/v3/v7 (control and
// user-defined pieces, byte fallback), Phi-3 (LLaMA-2's model plus added chat tokens) and a
// Gemma-format model trained by tests/reference/make_tokenizer_fixtures.py.

#include <gtest/gtest.h>

#include <filesystem>

#include "ptq/tokenizer/tokenizer.h"
#include "test_utils.h"
#include "tokenizer/expected_ids.h"

namespace ptq::tokenizer {
namespace {

namespace fs = std::filesystem;
using test::tokenizers_dir;

fs::path mistral(const std::string& name) { return tokenizers_dir() / "mistral" / name; }
const char* const kMistralV1 = "tokenizer.model.v1";
const char* const kMistralV2 = "mistral_instruct_tokenizer_240216.model.v2";
const char* const kMistralV3 = "mistral_instruct_tokenizer_240323.model.v3";
const char* const kMistralV7 = "mistral_instruct_tokenizer_241114.model.v7";

fs::path reference(const std::string& name) { return test::fixtures_dir() / "tokenizers" / name; }

// mistral-common's fixtures (in that repository: tokens_v1/v2/v3.json under
// tests/data/samples/no_tools, and its test_tokenize_v1.py). The regular pieces of v7 are
// v2/v3's, id for id.
TEST(SentencePieceModel, MistralMatchesMistralCommonIds) {
  const std::string question = "What's the result of 5 + 5?";
  const auto v1 = load_tokenizer(mistral(kMistralV1));
  EXPECT_EQ(v1->encode_raw(question),
            (std::vector<int32_t>{1824, 28742, 28713, 272, 1204, 302, 28705, 28782, 648, 28705,
                                  28782, 28804}));
  EXPECT_EQ(v1->encode_raw("[INST]"), (std::vector<int32_t>{733, 16289, 28793}));
  EXPECT_EQ(v1->encode_raw("SYSTEM\n\na"), (std::vector<int32_t>{17121, 22526, 13, 13, 28708}));
  const std::vector<int32_t> v2_ids = {2592,  29510, 29481, 1040,  1972,  1070,
                                       29473, 29550, 1416,  29473, 29550, 29572};
  for (const char* name : {kMistralV2, kMistralV3, kMistralV7}) {
    const auto tokenizer = load_tokenizer(mistral(name));
    EXPECT_EQ(tokenizer->vocab_size(), 32768) << name;
    EXPECT_EQ(tokenizer->encode(question).front(), 1) << name;  // BOS <s>
    EXPECT_EQ(tokenizer->encode_raw(question), v2_ids) << name;
  }
}

// python3-sentencepiece's ids for llama.cpp's 46 strings and strings with control ([INST]) and
// user-defined ([IMG] in v3, [REFERENCE_DOC_3]) pieces, which it cuts out of the normalized text.
TEST(SentencePieceModel, MistralMatchesSentencePieceLibrary) {
  const std::pair<const char*, const char*> files[] = {{kMistralV1, "mistral-v1.json"},
                                                       {kMistralV2, "mistral-v2.json"},
                                                       {kMistralV3, "mistral-v3.json"},
                                                       {kMistralV7, "mistral-v7.json"}};
  for (const auto& [model, expected] : files) {
    const auto cases = test::read_reference_cases(reference(expected));
    ASSERT_EQ(cases.size(), 51u) << expected;
    EXPECT_EQ(test::count_exact(*load_tokenizer(mistral(model)), cases), cases.size()) << model;
  }
}

// Phi-3's tokenizer directory as Hugging Face ships it: LLaMA-2's tokenizer.model, and the chat
// tokens 32000-32010 (phi3_added_tokens.json, read from llama.cpp's Phi-3 GGUF: type 3 =
// control, so special) in added_tokens.json and tokenizer_config.json.
void write_phi3_dir(const fs::path& dir) {
  fs::create_symlink(test::shared_dir() / "models" / "llama2-tokenizer" / "tokenizer.model",
                     dir / "tokenizer.model");
  const auto listed =
      nlohmann::json::parse(test::read_file(tokenizers_dir() / "phi3" / "phi3_added_tokens.json"));
  nlohmann::json added = nlohmann::json::object();
  nlohmann::json decoder = nlohmann::json::object();
  for (const auto& token : listed.at("added_tokens")) {
    added[token.at("content").get<std::string>()] = token.at("id");
    decoder[std::to_string(token.at("id").get<int>())] = {
        {"content", token.at("content")}, {"special", token.at("gguf_token_type") == 3}};
  }
  test::write_file(dir / "added_tokens.json", added.dump());
  test::write_file(dir / "tokenizer_config.json", nlohmann::json{{"added_tokens_decoder", decoder},
                                                                 {"bos_token", "<s>"},
                                                                 {"eos_token", "<|endoftext|>"}}
                                                      .dump());
}

TEST(SentencePieceModel, Phi3MatchesLlamaCppIds) {
  test::TempDir dir;
  write_phi3_dir(dir.path());
  const auto tokenizer = load_tokenizer(dir.path());
  const auto cases =
      test::read_llama_cpp_cases(tokenizers_dir() / "phi3" / "ggml-vocab-phi-3.gguf.inp");
  ASSERT_EQ(cases.size(), 46u);
  EXPECT_EQ(test::count_exact(*tokenizer, cases), 46u);
}

// Added tokens are cut out first; each text between them is a sentencepiece input of its own
// (LlamaTokenizer's legacy behaviour), so "\n..." after <|user|> gets the dummy prefix:
// python3-sentencepiece gives "\nHow are you?" -> [29871, 13, 5328, 526, 366, 29973] and
// "\n" -> [29871, 13].
TEST(SentencePieceModel, Phi3AddedTokens) {
  test::TempDir dir;
  write_phi3_dir(dir.path());
  const auto tokenizer = load_tokenizer(dir.path());
  EXPECT_EQ(tokenizer->vocab_size(), 32011);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 32000);
  const std::vector<int32_t> ids =
      tokenizer->encode_raw("<|user|>\nHow are you?<|end|>\n<|assistant|>");
  EXPECT_EQ(ids, (std::vector<int32_t>{32010, 29871, 13, 5328, 526, 366, 29973, 32007, 29871, 13,
                                       32001}));
  EXPECT_EQ(tokenizer->decode({32010, 32007, 32001}), "");  // control tokens are not text
}

// Gemma's format, from a model sentencepiece trained (no Gemma file is available): no dummy
// prefix, user-defined chat/markup/whitespace pieces, byte fallback; ids by the library.
TEST(SentencePieceModel, GemmaFormatMatchesSentencePieceLibrary) {
  const auto tokenizer = load_tokenizer(reference("gemma-style") / "tokenizer.model");
  EXPECT_EQ(tokenizer->bos_id(), 2);
  EXPECT_EQ(tokenizer->eos_id(), 1);
  const auto cases = test::read_reference_cases(reference("gemma-style") / "expected.json");
  ASSERT_EQ(cases.size(), 51u);
  EXPECT_EQ(test::count_exact(*tokenizer, cases), cases.size());
}

}  // namespace
}  // namespace ptq::tokenizer
