#include "ptq/model/llama2c.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/io_test_helpers.h"
#include "ptq/io/safetensors.h"
#include "test_utils.h"

namespace ptq::test {
namespace {

namespace fs = std::filesystem;

fs::path stories_bin() { return shared_dir() / "models/stories260K/stories260K.bin"; }
fs::path stories_hf() { return shared_dir() / "models/stories260K-hf"; }

// A llama2.c file: the 7 header ints, then `floats` values 0, 1, 2, ...
std::string llama2c_bytes(const std::vector<int32_t>& header, int64_t floats) {
  std::string bytes(header.size() * sizeof(int32_t) + floats * sizeof(float), '\0');
  std::memcpy(bytes.data(), header.data(), header.size() * sizeof(int32_t));
  const at::Tensor values = at::arange(floats, at::kFloat);
  std::memcpy(bytes.data() + header.size() * sizeof(int32_t), values.data_ptr(),
              floats * sizeof(float));
  return bytes;
}

nlohmann::json read_json(const fs::path& path) { return nlohmann::json::parse(read_file(path)); }

TEST(Llama2c, Stories260KMatchesTheShippedHfCheckpoint) {
  TempDir dir;
  model::convert_llama2c(stories_bin().string(), (dir / "m").string());
  const io::SafetensorsReader ours((dir / "m" / "model.safetensors").string());
  const io::SafetensorsReader shipped((stories_hf() / "model.safetensors").string());
  ASSERT_EQ(shipped.names().size(), 47u);
  ASSERT_EQ(ours.names(), shipped.names());
  for (const auto& name : shipped.names()) {
    EXPECT_TRUE(at::equal(ours.tensor(name), shipped.tensor(name))) << name;
  }
  const nlohmann::json config = read_json(dir / "m" / "config.json");
  const nlohmann::json expected = read_json(stories_hf() / "config.json");
  EXPECT_EQ(config.size(), expected.size());
  for (const auto& [key, value] : expected.items()) {
    EXPECT_EQ(config.value(key, nlohmann::json("<missing>")), value) << key;
  }
}

TEST(Llama2c, Stories260KSafetensorsIsByteIdenticalToTheShippedOne) {
  TempDir dir;
  model::convert_llama2c(stories_bin().string(), (dir / "m").string());
  EXPECT_TRUE(read_file(dir / "m" / "model.safetensors") ==
              read_file(stories_hf() / "model.safetensors"));
  EXPECT_EQ(read_file(dir / "m" / "config.json"), read_file(stories_hf() / "config.json"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(Llama2c, UnsharedClassifierAndRotateHalfPermutation) {
  TempDir dir;
  // dim 8, hidden 4, 1 layer, 2 heads of 4, 1 kv head, vocab -3 (unshared), seq 2: 368 floats.
  write_file(dir / "tiny.bin", llama2c_bytes({8, 4, 1, 2, 1, -3, 2}, 368));
  model::convert_llama2c((dir / "tiny.bin").string(), (dir / "m").string());
  const io::SafetensorsReader reader((dir / "m" / "model.safetensors").string());
  const auto rows = [](int64_t begin, int64_t n, int64_t cols) {
    return at::arange(begin, begin + n * cols, at::kFloat).reshape({n, cols});
  };
  // Pairs (0,1), (2,3) of each head become halves: rows 0, 2, 1, 3 per head.
  const at::Tensor q_order = at::tensor({0, 2, 1, 3, 4, 6, 5, 7}, at::kLong);
  EXPECT_TRUE(at::equal(reader.tensor("model.layers.0.self_attn.q_proj.weight"),
                        rows(32, 8, 8).index_select(0, q_order)));
  EXPECT_TRUE(at::equal(reader.tensor("model.layers.0.self_attn.k_proj.weight"),
                        rows(96, 4, 8).index_select(0, q_order.slice(0, 0, 4))));
  EXPECT_TRUE(at::equal(reader.tensor("model.embed_tokens.weight"), rows(0, 3, 8)));
  EXPECT_TRUE(at::equal(reader.tensor("lm_head.weight"), rows(344, 3, 8)));
  const nlohmann::json config = read_json(dir / "m" / "config.json");
  EXPECT_EQ(config["tie_word_embeddings"], false);
  EXPECT_EQ(config["vocab_size"], 3);
  EXPECT_EQ(config["head_dim"], 4);
}

TEST(Llama2c, TruncatedFileNamesTheFileAndLeavesNothing) {
  TempDir dir;
  const std::string bytes = read_file(stories_bin());
  write_file(dir / "stories.bin", bytes.substr(0, bytes.size() - 100));
  expect_input_error(
      [&] { model::convert_llama2c((dir / "stories.bin").string(), (dir / "m").string()); },
      {"stories.bin: truncated: header implies 1056540 bytes, file has 1056440"});
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(Llama2c, TrailingBytesAreRejected) {
  TempDir dir;
  write_file(dir / "long.bin", read_file(stories_bin()) + "xxxx");
  expect_input_error(
      [&] { model::convert_llama2c((dir / "long.bin").string(), (dir / "m").string()); },
      {"long.bin", "1056540", "1056544"});
}

TEST(Llama2c, InvalidDimsAreRejected) {
  TempDir dir;
  const auto expect_rejected = [&](const std::vector<int32_t>& header, const std::string& part) {
    write_file(dir / "bad.bin", llama2c_bytes(header, 368));
    expect_input_error(
        [&] { model::convert_llama2c((dir / "bad.bin").string(), (dir / "m").string()); },
        {"bad.bin", part});
  };
  expect_rejected({8, 4, 0, 2, 1, -3, 2}, "non-positive");
  expect_rejected({8, 4, 1, 3, 1, -3, 2}, "not divisible by n_heads 3");
  expect_rejected({8, 4, 1, 2, 3, -3, 2}, "n_kv_heads 3 does not divide n_heads 2");
  expect_rejected({8, 4, 1, 8, 1, -3, 2}, "odd");
  expect_rejected({8, 4, 1, 2, 1, 0, 2}, "non-positive");
  write_file(dir / "short.bin", "abc");
  expect_input_error(
      [&] { model::convert_llama2c((dir / "short.bin").string(), (dir / "m").string()); },
      {"short.bin", "truncated"});
}

TEST(Llama2c, RefusesANonEmptyOutputDirectory) {
  TempDir dir;
  write_file(dir / "tiny.bin", llama2c_bytes({8, 4, 1, 2, 1, -3, 2}, 368));
  fs::create_directory(dir / "m");
  write_file(dir / "m" / "keep.txt", "mine");
  expect_input_error(
      [&] { model::convert_llama2c((dir / "tiny.bin").string(), (dir / "m").string()); },
      {(dir / "m").string(), "not empty"});
  EXPECT_EQ(read_file(dir / "m" / "keep.txt"), "mine");
}

TEST(Llama2c, FillsAnExistingEmptyOutputDirectory) {
  TempDir dir;
  write_file(dir / "tiny.bin", llama2c_bytes({8, 4, 1, 2, 1, -3, 2}, 368));
  fs::create_directory(dir / "m");
  model::convert_llama2c((dir / "tiny.bin").string(), (dir / "m/").string());
  EXPECT_TRUE(fs::exists(dir / "m" / "model.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "m" / "config.json"));
}

}  // namespace
}  // namespace ptq::test
