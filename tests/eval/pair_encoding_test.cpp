// lm-eval's pair encoding (src/eval/pair_encoding.h) on GPT-2's tokenizer, with the expected
// ids looked up in its vocab.json by hand, and Python's whitespace and len() rules.

#include "eval/pair_encoding.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_utils.h"

namespace ptq::test {
namespace {

int32_t gpt2_id(const std::string& token) {
  static const nlohmann::json vocab =
      nlohmann::json::parse(read_file(shared_dir() / "data" / "gpt2-tokenizer" / "vocab.json"));
  return vocab.at(token).get<int32_t>();
}

// "Answer: " + "yes": the context's trailing space joins the continuation, so the continuation
// is the single token "Ġyes" rather than "Ġ" left in the context and "yes" after it.
TEST(PairEncoding, TrailingContextSpaceMovesIntoTheContinuation) {
  const auto tokenizer =
      tokenizer::load_tokenizer((shared_dir() / "data" / "gpt2-tokenizer").string());
  const eval::EncodedRequest r = eval::encode_pair(*tokenizer, {"Answer: ", "yes"});
  EXPECT_EQ(r.context, (std::vector<int32_t>{gpt2_id("Answer"), gpt2_id(":")}));
  EXPECT_EQ(r.continuation, (std::vector<int32_t>{gpt2_id("\xC4\xA0yes")}));
}

// The continuation's tokens are tok(context + continuation) past len(tok(context)).
TEST(PairEncoding, ContinuationIsWholePastContextTokens) {
  const auto tokenizer =
      tokenizer::load_tokenizer((shared_dir() / "data" / "gpt2-tokenizer").string());
  const eval::EncodedRequest r = eval::encode_pair(*tokenizer, {"The cat", " sat"});
  EXPECT_EQ(r.context, (std::vector<int32_t>{gpt2_id("The"), gpt2_id("\xC4\xA0"
                                                                     "cat")}));
  EXPECT_EQ(r.continuation, (std::vector<int32_t>{gpt2_id("\xC4\xA0sat")}));
}

TEST(PairEncoding, PythonWhitespaceAndLength) {
  // " \u00a0\n" after "a": 1 + 2 + 1 bytes; "\u3000" is whitespace, "\u00e9" is not.
  EXPECT_EQ(eval::trailing_whitespace_bytes("a \xC2\xA0\n"), 4u);
  EXPECT_EQ(eval::trailing_whitespace_bytes("\xC3\xA9"), 0u);
  EXPECT_EQ(eval::strip_whitespace("\xE3\x80\x80 x y\t"), "x y");
  EXPECT_EQ(eval::strip_whitespace(" \n "), "");
  EXPECT_EQ(eval::count_characters("caf\xC3\xA9 \xF0\x9F\xA6\x99"), 6);
}

}  // namespace
}  // namespace ptq::test
