#include "ptq/common/printable.h"

#include <gtest/gtest.h>

namespace ptq {
namespace {

TEST(Printable, EscapesControlsAndInvalidUtf8KeepsText) {
  EXPECT_EQ(printable("model.layers.0.q_proj"), "model.layers.0.q_proj");
  EXPECT_EQ(printable("caf\xc3\xa9 \xe2\x96\x81"), "caf\xc3\xa9 \xe2\x96\x81");  // é, ▁ kept
  EXPECT_EQ(printable("a\x1b[2Jb\x07"), "a\\x1b[2Jb\\x07");
  EXPECT_EQ(printable("line\nnext\t\x7f"), "line\\x0anext\\x09\\x7f");
  EXPECT_EQ(printable("c1 \xc2\x9b csi"), "c1 \\xc2\\x9b csi");  // U+009B, a CSI
  EXPECT_EQ(printable("bad \xff\xfe end"), "bad \\xff\\xfe end");
  EXPECT_EQ(printable("overlong \xc0\xaf"), "overlong \\xc0\\xaf");  // '/' in 2 bytes
  EXPECT_EQ(printable("surrogate \xed\xa0\x80"), "surrogate \\xed\\xa0\\x80");
  EXPECT_EQ(printable("cut \xe2\x96"), "cut \\xe2\\x96");
  EXPECT_EQ(printable("back\\slash"), "back\\\\slash");
  EXPECT_EQ(printable(std::string("nul\0x", 5)), "nul\\x00x");
}

}  // namespace
}  // namespace ptq
