#include <gtest/gtest.h>

#include "data/input_error.h"
#include "ptq/data/dataset.h"
#include "test_utils.h"

namespace ptq::data {
namespace {

TEST(DatasetTokenRows, ReadsLittleEndianRows) {
  test::TempDir dir;
  // -2, 1, 256, 65535 as int32 little-endian.
  test::write_file(dir / "rows.i32", std::string("\xFE\xFF\xFF\xFF\x01\x00\x00\x00"
                                                 "\x00\x01\x00\x00\xFF\xFF\x00\x00",
                                                 16));
  const TokenRows rows = load_token_rows((dir / "rows.i32").string(), 2);
  EXPECT_EQ(rows.rows, 2);
  EXPECT_EQ(rows.row_len, 2);
  EXPECT_EQ(rows.ids, (std::vector<int32_t>{-2, 1, 256, 65535}));
}

TEST(DatasetTokenRows, ReadsTheShippedCalibrationSamples) {
  const auto path =
      test::shared_dir() / "models" / "stories260K" / "samples-calib-128x512-seed1.i32";
  const TokenRows rows = load_token_rows(path.string(), 512);
  EXPECT_EQ(rows.rows, 128);
  EXPECT_EQ(rows.ids.size(), 128u * 512u);
}

TEST(DatasetTokenRows, RejectsPartialRows) {
  test::TempDir dir;
  test::write_file(dir / "odd.i32", std::string(12, '\0'));
  const std::string path = (dir / "odd.i32").string();
  EXPECT_TRUE(test::mentions(test::input_error([&] { load_token_rows(path, 2); }), "odd.i32"));
  EXPECT_TRUE(test::mentions(test::input_error([&] { load_token_rows(path, 0); }), "odd.i32"));
  EXPECT_TRUE(test::mentions(
      test::input_error([&] { load_token_rows((dir / "none.i32").string(), 2); }), "none.i32"));
}

TEST(DatasetTokenRows, RecognizesTokenSpecs) {
  EXPECT_TRUE(is_token_spec("tokens:calib.i32"));
  EXPECT_FALSE(is_token_spec("wikitext2"));
  EXPECT_FALSE(is_token_spec("my-tokens:x"));
}

}  // namespace
}  // namespace ptq::data
