#include "tokenizer/regex_splitter.h"

#include <gtest/gtest.h>

#include "ptq/common/error.h"

namespace ptq::tokenizer {
namespace {

using Pieces = std::vector<std::string_view>;

// Expected pieces from Python: regex.findall(<the GPT-2 pattern>, text).
TEST(BpeRegexSplit, SplitsLikeGptTwo) {
  const RegexSplitter splitter(kGpt2SplitPattern);
  EXPECT_EQ(
      splitter.split("I'm  here 123!!\n\n \u00dcn\u00ef \u6570\u5b57"),
      (Pieces{"I", "'m", " ", " here", " 123", "!!", "\n\n", " \u00dcn\u00ef", " \u6570\u5b57"}));
}

TEST(BpeRegexSplit, KeepsTextBetweenMatches) {
  EXPECT_EQ(RegexSplitter("[0-9]+").split("ab12cd3"), (Pieces{"ab", "12", "cd", "3"}));
}

TEST(BpeRegexSplit, RejectsBadPatternAndInvalidUtf8) {
  EXPECT_THROW(RegexSplitter("(unclosed"), InputError);
  EXPECT_THROW(RegexSplitter(kGpt2SplitPattern).split("bad \xC3 byte"), InputError);
}

}  // namespace
}  // namespace ptq::tokenizer
