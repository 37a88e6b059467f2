#include "tokenizer/pair_merge.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace ptq::tokenizer {
namespace {

using Pieces = std::vector<std::string_view>;

PairPriority table(std::map<std::string, double> priorities) {
  return [priorities](std::string_view left, std::string_view right) -> std::optional<double> {
    const auto it = priorities.find(std::string(left) + "+" + std::string(right));
    if (it == priorities.end()) return std::nullopt;
    return it->second;
  };
}

TEST(BpePairMerge, MergesBestPairFirst) {
  EXPECT_EQ(merge_pairs("abc", table({{"a+b", 1}, {"b+c", 2}})), (Pieces{"a", "bc"}));
  EXPECT_EQ(merge_pairs("abc", table({{"a+b", 2}, {"b+c", 1}})), (Pieces{"ab", "c"}));
  EXPECT_EQ(merge_pairs("abc", table({{"a+b", 1}, {"ab+c", 0}})), (Pieces{"abc"}));
}

TEST(BpePairMerge, BreaksTiesLeftmost) {
  EXPECT_EQ(merge_pairs("aaa", table({{"a+a", 1}})), (Pieces{"aa", "a"}));
  EXPECT_EQ(merge_pairs("aaaa", table({{"a+a", 1}, {"aa+aa", 0}})), (Pieces{"aaaa"}));
}

TEST(BpePairMerge, KeepsUtf8CharactersWhole) {
  EXPECT_EQ(merge_pairs("\u00e9\U0001F999", table({})), (Pieces{"\u00e9", "\U0001F999"}));
  EXPECT_EQ(merge_pairs("", table({})), Pieces{});
}

}  // namespace
}  // namespace ptq::tokenizer
