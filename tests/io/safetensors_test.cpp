#include "ptq/io/safetensors.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "io/io_test_helpers.h"
#include "test_utils.h"

namespace ptq::test {
namespace {

using io::SafetensorsReader;
using io::SafetensorsWriter;

std::map<std::string, at::Tensor> one_tensor_per_dtype() {
  at::manual_seed(0);
  return {
      {"f64", at::randn({3, 2}, at::kDouble)},
      {"f32", at::randn({2, 3, 4}, at::kFloat)},
      {"f16", at::randn({5}, at::kFloat).to(at::kHalf)},
      {"bf16", at::randn({2, 2}, at::kFloat).to(at::kBFloat16)},
      {"i64", at::tensor({INT64_MIN, int64_t{-1}, INT64_MAX}, at::kLong)},
      {"i32", at::randint(-1000, 1000, {4, 1}, at::kInt)},
      {"i16", at::randint(-30000, 30000, {7}, at::kShort)},
      {"i8", at::randint(-128, 128, {3, 3}, at::kChar)},
      {"u8", at::randint(0, 256, {1, 5}, at::kByte)},
      {"bool", at::randint(0, 2, {6}, at::kInt).to(at::kBool)},
      {"scalar", at::scalar_tensor(3.5, at::kFloat)},
      {"empty", at::empty({0, 4}, at::kFloat)},
  };
}

TEST(SafetensorsRoundTrip, EveryDtypeKeepsValuesShapesAndMetadata) {
  TempDir dir;
  const auto tensors = one_tensor_per_dtype();
  SafetensorsWriter writer;
  for (const auto& [name, tensor] : tensors) writer.add(name, tensor);
  writer.set_metadata("format", "pt");
  writer.write((dir / "all.safetensors").string());

  const SafetensorsReader reader((dir / "all.safetensors").string());
  ASSERT_EQ(reader.names().size(), tensors.size());
  for (const auto& [name, expected] : tensors) {
    const at::Tensor actual = reader.tensor(name);
    EXPECT_EQ(actual.scalar_type(), expected.scalar_type()) << name;
    EXPECT_EQ(actual.sizes(), expected.sizes()) << name;
    EXPECT_TRUE(at::equal(actual, expected)) << name;
  }
  EXPECT_EQ(reader.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
}

TEST(SafetensorsRoundTrip, HeaderLengthIsAMultipleOfEight) {
  TempDir dir;
  for (const std::string name : {"a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "x8"}) {
    SafetensorsWriter writer;
    writer.add(name, at::ones({1}));
    const auto path = dir / (name + ".safetensors");
    writer.write(path.string());
    const std::string bytes = read_file(path);
    uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<uint8_t>(bytes[i]);
    EXPECT_EQ(length % 8, 0u) << name;
    EXPECT_EQ(bytes.size(), 8 + length + 4) << name;
  }
}

TEST(SafetensorsRoundTrip, TinyFileMatchesHandBuiltBytes) {
  TempDir dir;
  SafetensorsWriter writer;
  writer.add("x", at::tensor({1.0f, 2.0f}));
  writer.set_metadata("k", "v");
  writer.write((dir / "tiny.safetensors").string());
  // 79 header bytes padded with one space to 80 (0x50); 1.0f and 2.0f little-endian.
  const std::string expected =
      std::string("\x50\0\0\0\0\0\0\0", 8) +
      R"({"__metadata__":{"k":"v"},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} )" +
      std::string("\0\0\x80\x3f\0\0\0\x40", 8);
  EXPECT_EQ(read_file(dir / "tiny.safetensors"), expected);
  EXPECT_FALSE(std::filesystem::exists(dir / "tiny.safetensors.tmp"));
}

TEST(SafetensorsRoundTrip, AlignedTensorsAreViewsAndUnalignedOnesCopies) {
  TempDir dir;
  SafetensorsWriter writer;
  writer.add("a", at::tensor({1, 2, 3}, at::kByte));  // puts "b" at data offset 3
  writer.add("b", at::tensor({1.5f, -2.5f}));
  writer.write((dir / "mixed.safetensors").string());
  const SafetensorsReader reader((dir / "mixed.safetensors").string());
  const at::Tensor b = reader.tensor("b");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data_ptr()) % sizeof(float), 0u);
  EXPECT_TRUE(at::equal(b, at::tensor({1.5f, -2.5f})));
  EXPECT_NE(reader.tensor("b").data_ptr(), b.data_ptr());  // a fresh copy each time
  EXPECT_EQ(reader.tensor("a").data_ptr(), reader.tensor("a").data_ptr());  // the mapping
}

TEST(SafetensorsRoundTrip, ViewsOutliveTheReader) {
  TempDir dir;
  SafetensorsWriter writer;
  writer.add("w", at::arange(16, at::kFloat));
  writer.write((dir / "w.safetensors").string());
  at::Tensor view;
  {
    const SafetensorsReader reader((dir / "w.safetensors").string());
    view = reader.tensor("w");
  }
  EXPECT_TRUE(at::equal(view, at::arange(16, at::kFloat)));
}

TEST(SafetensorsRoundTrip, UnknownTensorNamesTheFile) {
  TempDir dir;
  SafetensorsWriter writer;
  writer.add("w", at::ones({1}));
  writer.write((dir / "w.safetensors").string());
  const SafetensorsReader reader((dir / "w.safetensors").string());
  expect_input_error([&] { reader.tensor("nope"); }, {"nope", "w.safetensors"});
}

TEST(SafetensorsWriterErrors, UnwritableDirectoryNamesThePath) {
  TempDir dir;
  const auto path = dir / "missing" / "out.safetensors";
  SafetensorsWriter writer;
  writer.add("w", at::ones({1}));
  expect_input_error([&] { writer.write(path.string()); }, {path.string()});
}

TEST(SafetensorsWriterErrors, FailedRenameRemovesTheTempFile) {
  TempDir dir;
  const auto path = dir / "taken";
  std::filesystem::create_directories(path / "child");  // rename cannot replace it
  SafetensorsWriter writer;
  writer.add("w", at::ones({1}));
  expect_input_error([&] { writer.write(path.string()); }, {path.string()});
  EXPECT_FALSE(std::filesystem::exists(dir / "taken.tmp"));
}

TEST(SafetensorsWriterErrors, DuplicateNameIsRejected) {
  SafetensorsWriter writer;
  writer.add("w", at::ones({1}));
  expect_input_error([&] { writer.add("w", at::ones({1})); }, {"'w'"});
}

// Each malformed file is written by hand as bytes to bad.safetensors.
class SafetensorsMalformed : public ::testing::Test {
 protected:
  void expect_rejected(const std::string& bytes, std::vector<std::string> parts) {
    const auto path = _dir / "bad.safetensors";
    write_file(path, bytes);
    parts.push_back("bad.safetensors");
    expect_input_error([&] { SafetensorsReader reader(path.string()); }, parts);
  }

  TempDir _dir;
};

const std::string kFourFloats(16, '\0');

TEST_F(SafetensorsMalformed, FileShorterThanEightBytes) { expect_rejected("abc", {"3 bytes"}); }

TEST_F(SafetensorsMalformed, HeaderLengthPastEndOfFile) {
  std::string bytes = safetensors_bytes("{}", "");
  bytes[0] = 100;
  expect_rejected(bytes, {"header length 100"});
}

TEST_F(SafetensorsMalformed, InvalidJson) {
  expect_rejected(safetensors_bytes(R"({"w": {"dtype": )", ""), {"not valid JSON"});
}

// nlohmann reports a number beyond double's range as out_of_range, not a parse error (found
// by the parser fuzzer).
TEST_F(SafetensorsMalformed, NumberOutOfRange) {
  expect_rejected(safetensors_bytes(R"({"w": {"dtype": "F32", "shape": [61e308]}})", ""),
                  {"not valid JSON", "number overflow"});
}

TEST_F(SafetensorsMalformed, HeaderNotAnObject) {
  expect_rejected(safetensors_bytes("[1, 2]", ""), {"not a JSON object"});
}

TEST_F(SafetensorsMalformed, UnknownDtype) {
  expect_rejected(
      safetensors_bytes(R"({"w":{"dtype":"F33","shape":[4],"data_offsets":[0,16]}})", kFourFloats),
      {"'w'", "F33"});
}

TEST_F(SafetensorsMalformed, NegativeShape) {
  expect_rejected(
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", kFourFloats),
      {"'w'", "[-4]"});
}

TEST_F(SafetensorsMalformed, OffsetsPastDataSection) {
  expect_rejected(
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}})", kFourFloats),
      {"'w'", "[0,32]", "16 bytes"});
}

TEST_F(SafetensorsMalformed, OverlappingOffsets) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  expect_rejected(safetensors_bytes(header, std::string(12, '\0')), {"'a'", "'b'", "overlaps"});
}

TEST_F(SafetensorsMalformed, ByteLengthNotNumelTimesDtypeSize) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[2,4],"data_offsets":[0,24]}})";
  expect_rejected(safetensors_bytes(header, std::string(24, '\0')),
                  {"tensor 'w' has 24 bytes but shape [2,4] x F32 needs 32"});
}

TEST_F(SafetensorsMalformed, BeginAfterEnd) {
  expect_rejected(
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[16,0]}})", kFourFloats),
      {"'w'", "begin 16 > end 0"});
}

TEST_F(SafetensorsMalformed, GapBetweenTensors) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  expect_rejected(safetensors_bytes(header, kFourFloats), {"'b'", "[4,8)"});
}

TEST_F(SafetensorsMalformed, UnusedTrailingData) {
  const std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  expect_rejected(safetensors_bytes(header, kFourFloats), {"16 bytes", "cover 8"});
}

TEST_F(SafetensorsMalformed, MetadataNotAStringMap) {
  expect_rejected(safetensors_bytes(R"({"__metadata__":{"n":1}})", ""), {"__metadata__", "'n'"});
}

}  // namespace
}  // namespace ptq::test
