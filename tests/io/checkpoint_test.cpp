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

// The torch.save twins of the "llama" and "llama_sharded" fixtures
// (tests/reference/make_torch_bin_fixtures.py) hold the same tensors as their safetensors.
void expect_same_tensors(const Checkpoint& got, const Checkpoint& want) {
  ASSERT_EQ(got.names(), want.names());
  for (const std::string& name : want.names()) {
    SCOPED_TRACE(name);
    EXPECT_EQ(got.entry(name).dtype, want.entry(name).dtype);
    EXPECT_TRUE(at::equal(got.tensor(name), want.tensor(name)));
  }
}

TEST(Checkpoint, PytorchModelBin) {
  const Checkpoint bin((fixtures_dir() / "torch_bin" / "llama").string());
  expect_same_tensors(bin, Checkpoint((fixtures_dir() / "llama").string()));
  EXPECT_EQ(bin.file_of("lm_head.weight"),
            (fixtures_dir() / "torch_bin" / "llama" / "pytorch_model.bin").string());
}

TEST(Checkpoint, ShardedPytorchModelBin) {
  const std::filesystem::path dir = fixtures_dir() / "torch_bin" / "llama_sharded";
  const Checkpoint bin(dir.string());
  expect_same_tensors(bin, Checkpoint((fixtures_dir() / "llama_sharded").string()));
  EXPECT_EQ(bin.file_of("model.norm.weight"), (dir / "pytorch_model-00003-of-00003.bin").string());
}

TEST(Checkpoint, SafetensorsPreferredOverPytorchModelBin) {
  TempDir dir;
  write_safetensors(dir / "model.safetensors", {{"x", at::ones({2})}});
  std::filesystem::copy_file(fixtures_dir() / "torch_bin" / "views.bin", dir / "pytorch_model.bin");
  EXPECT_EQ(Checkpoint(dir.path().string()).names(), std::vector<std::string>{"x"});
  std::filesystem::remove(dir / "model.safetensors");
  EXPECT_TRUE(Checkpoint(dir.path().string()).contains("transposed"));
}

// AutoGPTQ's layout: quantize_config.json's model_file_base_name names the weights.
TEST(Checkpoint, GptqModelFileBaseName) {
  TempDir dir;
  write_file(dir / "quantize_config.json",
             R"({"bits": 4, "group_size": 128, "model_file_base_name": "gptq_model-4bit-128g"})");
  expect_input_error([&] { Checkpoint ckpt(dir.path().string()); },
                     {dir.path().string(), "model_file_base_name"});
  write_safetensors(dir / "gptq_model-4bit-128g.safetensors", {{"q", at::full({3}, 4.0)}});
  const Checkpoint ckpt(dir.path().string());
  EXPECT_TRUE(at::equal(ckpt.tensor("q"), at::full({3}, 4.0)));
  EXPECT_EQ(ckpt.file_of("q"), (dir / "gptq_model-4bit-128g.safetensors").string());
  // Saved without safetensors, AutoGPTQ writes <base>.bin.
  std::filesystem::remove(dir / "gptq_model-4bit-128g.safetensors");
  std::filesystem::copy_file(fixtures_dir() / "torch_bin" / "views.bin",
                             dir / "gptq_model-4bit-128g.bin");
  EXPECT_TRUE(Checkpoint(dir.path().string()).contains("ints"));
  write_file(dir / "quantize_config.json", R"({"model_file_base_name": "../gptq_model"})");
  expect_input_error([&] { Checkpoint ckpt(dir.path().string()); },
                     {"quantize_config.json", "../gptq_model", "not a file name"});
}

}  // namespace
}  // namespace ptq::test
