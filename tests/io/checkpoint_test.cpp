#include "ptq/io/checkpoint.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "io/io_test_helpers.h"
#include "test_utils.h"

namespace ptq::test {
namespace {

using io::Checkpoint;

void write_safetensors(const std::filesystem::path& path,
                       const std::map<std::string, at::Tensor>& tensors) {
  io::SafetensorsWriter writer;
  for (const auto& [name, tensor] : tensors) writer.add(name, tensor);
  writer.write(path.string());
}

const std::string kIndex = R"({
  "metadata": {"total_size": 32},
  "weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                 "b.weight": "model-00002-of-00002.safetensors",
                 "c.weight": "model-00002-of-00002.safetensors"}
})";

// Two shards and the index above.
void write_sharded(const TempDir& dir) {
  write_safetensors(dir / "model-00001-of-00002.safetensors", {{"a.weight", at::ones({2})}});
  write_safetensors(dir / "model-00002-of-00002.safetensors",
                    {{"b.weight", at::full({2}, 2.0)}, {"c.weight", at::full({2, 2}, 3.0)}});
  write_file(dir / "model.safetensors.index.json", kIndex);
}

TEST(Checkpoint, SingleFile) {
  TempDir dir;
  write_safetensors(dir / "model.safetensors", {{"x", at::arange(6.0).reshape({2, 3})}});
  const Checkpoint ckpt(dir.path().string());
  EXPECT_EQ(ckpt.names(), std::vector<std::string>{"x"});
  EXPECT_TRUE(ckpt.contains("x"));
  EXPECT_TRUE(at::equal(ckpt.tensor("x"), at::arange(6.0).reshape({2, 3})));
  EXPECT_EQ(ckpt.file_of("x"), (dir / "model.safetensors").string());
}

TEST(Checkpoint, Sharded) {
  TempDir dir;
  write_sharded(dir);
  const Checkpoint ckpt(dir.path().string());
  EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"a.weight", "b.weight", "c.weight"}));
  EXPECT_TRUE(at::equal(ckpt.tensor("a.weight"), at::ones({2})));
  EXPECT_TRUE(at::equal(ckpt.tensor("b.weight"), at::full({2}, 2.0)));
  EXPECT_TRUE(at::equal(ckpt.tensor("c.weight"), at::full({2, 2}, 3.0)));
  EXPECT_EQ(ckpt.file_of("c.weight"), (dir / "model-00002-of-00002.safetensors").string());
}

TEST(Checkpoint, MissingShardNamesShardAndTensor) {
  TempDir dir;
  write_sharded(dir);
  std::filesystem::remove(dir / "model-00002-of-00002.safetensors");
  expect_input_error([&] { Checkpoint ckpt(dir.path().string()); },
                     {"model-00002-of-00002.safetensors", "b.weight", "does not exist"});
}

TEST(Checkpoint, TensorNotFoundNamesTensorAndDirectory) {
  TempDir dir;
  write_sharded(dir);
  const Checkpoint ckpt(dir.path().string());
  EXPECT_FALSE(ckpt.contains("lm_head.weight"));
  expect_input_error([&] { ckpt.tensor("lm_head.weight"); },
                     {"lm_head.weight", dir.path().string()});
}

TEST(Checkpoint, TensorAbsentFromItsShardNamesTheShard) {
  TempDir dir;
  write_sharded(dir);
  write_safetensors(dir / "model-00002-of-00002.safetensors", {{"b.weight", at::ones({1})}});
  const Checkpoint ckpt(dir.path().string());
  expect_input_error([&] { ckpt.tensor("c.weight"); },
                     {"c.weight", "model-00002-of-00002.safetensors"});
}

TEST(Checkpoint, MissingDirectory) {
  TempDir dir;
  const std::string missing = (dir / "nope").string();
  expect_input_error([&] { Checkpoint ckpt(missing); }, {missing, "does not exist"});
}

TEST(Checkpoint, DirectoryWithoutWeights) {
  TempDir dir;
  expect_input_error([&] { Checkpoint ckpt(dir.path().string()); },
                     {dir.path().string(), "model.safetensors.index.json"});
}

TEST(Checkpoint, MalformedIndex) {
  TempDir dir;
  write_file(dir / "model.safetensors.index.json", R"({"weight_map": ["a"]})");
  expect_input_error([&] { Checkpoint ckpt(dir.path().string()); },
                     {"model.safetensors.index.json", "weight_map"});
  write_file(dir / "model.safetensors.index.json", R"({"weight_map": )");
  expect_input_error([&] { Checkpoint ckpt(dir.path().string()); },
                     {"model.safetensors.index.json", "not valid JSON"});
  write_file(dir / "model.safetensors.index.json", R"({"weight_map": {"a": "../x"}})");
  expect_input_error([&] { Checkpoint ckpt(dir.path().string()); }, {"'a'", "../x"});
}

}  // namespace
}  // namespace ptq::test
