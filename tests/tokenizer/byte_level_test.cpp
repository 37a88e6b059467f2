#include "tokenizer/byte_level.h"

#include <gtest/gtest.h>

#include <set>

namespace ptq::tokenizer {
namespace {

TEST(BpeByteAlphabet, MapsLikeGptTwo) {
  EXPECT_EQ(bytes_to_unicode(" "), "\u0120");   // 'Ġ'
  EXPECT_EQ(bytes_to_unicode("\n"), "\u010A");  // 'Ċ'
  EXPECT_EQ(bytes_to_unicode("A~"), "A~");
  EXPECT_EQ(bytes_to_unicode("\xAD"), "\u0143");  // the last unprintable byte: 256 + 67
  EXPECT_EQ(bytes_to_unicode("\xFF"), "\u00FF");
}

TEST(BpeByteAlphabet, RoundTripsEveryByte) {
  std::string all;
  std::set<std::string> characters;
  for (int byte = 0; byte < 256; ++byte) {
    all += static_cast<char>(byte);
    characters.insert(bytes_to_unicode(std::string(1, static_cast<char>(byte))));
  }
  EXPECT_EQ(characters.size(), 256u);
  EXPECT_EQ(unicode_to_bytes(bytes_to_unicode(all)), all);
}

}  // namespace
}  // namespace ptq::tokenizer
