// Behaviour shared by every family: KV-cache decoding, the linear-input observer, weight
// ownership and checkpoint validation.

#include "ptq/model/causal_lm.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "model/model_test_utils.h"
#include "ptq/common/error.h"
#include "ptq/io/safetensors.h"

namespace ptq::model {
namespace {

namespace fs = std::filesystem;

// Prefix of 5 tokens, then one token at a time, must reproduce the full forward. Not with
// dynamic rope scaling: past max_position_embeddings its frequencies follow the length of each
// step, so cached keys keep the frequencies they were rotated with (as in transformers).
TEST(KVCacheTest, IncrementalDecodingMatchesFullForward) {
  for (const std::string& name : test::model_fixtures()) {
    if (name == "llama_dynamic") continue;
    SCOPED_TRACE(name);
    const auto lm = load_causal_lm(test::fixture_model(name));
    const at::Tensor ids = test::load_reference(name).input_ids;
    const at::Tensor full = lm->forward(ids);
    KVCache cache;
    std::vector<at::Tensor> steps = {lm->forward(ids.narrow(1, 0, 5), &cache)};
    for (int64_t t = 5; t < ids.size(1); ++t) {
      EXPECT_EQ(cache.length(), t);
      steps.push_back(lm->forward(ids.narrow(1, t, 1), &cache));
    }
    EXPECT_EQ(cache.length(), ids.size(1));
    EXPECT_EQ(cache.keys[0].sizes(), at::IntArrayRef({ids.size(0), lm->config().num_kv_heads,
                                                      ids.size(1), lm->config().head_dim}));
    const double diff = test::relative_max_diff(at::cat(steps, 1), full);
    std::printf("[ %-19s ] KV cache vs full forward: %.3g\n", name.c_str(), diff);
    EXPECT_LT(diff, 1e-5);
  }
}

TEST(ModelTest, ObserverSeesEveryLinearInExecutionOrder) {
  for (const std::string& name : test::model_fixtures()) {
    SCOPED_TRACE(name);
    const auto lm = load_causal_lm(test::fixture_model(name));
    const at::Tensor ids = test::load_reference(name).input_ids;
    std::vector<std::string> seen;
    const LinearInputObserver observer = [&](const std::string& linear, const at::Tensor& x) {
      seen.push_back(linear);
      ASSERT_EQ(x.dim(), 3);
      EXPECT_EQ(x.size(0), ids.size(0));
      EXPECT_EQ(x.size(1), ids.size(1));
      EXPECT_EQ(x.size(2), lm->weight(linear + ".weight").size(1)) << linear;
    };
    at::Tensor hidden = lm->embed(ids, 0);
    std::vector<std::string> expected;
    for (int64_t i = 0; i < lm->num_layers(); ++i) {
      hidden = lm->forward_layer(i, hidden, 0, nullptr, &observer);
      for (const std::string& linear : lm->linear_names(i)) expected.push_back(linear);
    }
    EXPECT_EQ(seen, expected);
    // The layer-by-layer path is the forward pass.
    EXPECT_TRUE(at::equal(lm->logits(hidden), lm->forward(ids)));
  }
}

TEST(ModelTest, LinearNamesAreHuggingFaceModules) {
  const auto llama = load_causal_lm(test::fixture_model("llama"));
  EXPECT_EQ(llama->linear_names(1).front(), "model.layers.1.self_attn.q_proj");
  EXPECT_EQ(llama->linear_names(1).size(), 7u);
  const auto opt = load_causal_lm(test::fixture_model("opt"));
  EXPECT_EQ(
      opt->linear_names(0),
      (std::vector<std::string>{
          "model.decoder.layers.0.self_attn.q_proj", "model.decoder.layers.0.self_attn.k_proj",
          "model.decoder.layers.0.self_attn.v_proj", "model.decoder.layers.0.self_attn.out_proj",
          "model.decoder.layers.0.fc1", "model.decoder.layers.0.fc2"}));
  const auto neox = load_causal_lm(test::fixture_model("gpt_neox"));
  EXPECT_EQ(neox->linear_names(0),
            (std::vector<std::string>{
                "gpt_neox.layers.0.attention.query_key_value", "gpt_neox.layers.0.attention.dense",
                "gpt_neox.layers.0.mlp.dense_h_to_4h", "gpt_neox.layers.0.mlp.dense_4h_to_h"}));
}

TEST(ModelTest, WeightsAreWritableFp32Copies) {
  const auto lm = load_causal_lm(test::fixture_model("mistral"));  // bf16 on disk
  const std::string name = "model.layers.0.mlp.down_proj.weight";
  at::Tensor& w = lm->weight(name);
  EXPECT_EQ(w.scalar_type(), at::kFloat);
  EXPECT_TRUE(w.is_contiguous());
  const at::Tensor ids = test::load_reference("mistral").input_ids;
  const at::Tensor before = lm->forward(ids);
  w.zero_();  // would fault on a view of the read-only mapping
  EXPECT_FALSE(at::equal(before, lm->forward(ids)));
  EXPECT_THROW(lm->weight("model.layers.9.mlp.down_proj.weight"), InputError);
}

TEST(ModelTest, TokenOutsideTheVocabularyIsAnInputError) {
  const auto lm = load_causal_lm(test::fixture_model("llama"));
  EXPECT_THROW(lm->forward(at::full({1, 3}, lm->config().vocab_size, at::kLong)), InputError);
}

// Rewrites `file` in `dir` without `drop` and with `replace` set to a [1] tensor.
void rewrite_shard(const fs::path& file, const std::string& drop, const std::string& replace) {
  io::SafetensorsWriter writer;
  {
    const io::SafetensorsReader reader(file.string());
    for (const std::string& name : reader.names()) {
      if (name == drop) continue;
      writer.add(name, name == replace ? at::zeros({1}) : reader.tensor(name));
    }
  }
  writer.write(file.string());
}

std::string load_error(const fs::path& dir) {
  try {
    load_causal_lm(dir.string());
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ModelTest, MissingTensorIsNamed) {
  test::TempDir dir;
  const fs::path source = test::fixtures_dir() / "llama";
  fs::copy_file(source / "config.json", dir / "config.json");
  fs::copy_file(source / "model.safetensors", dir / "model.safetensors");
  const std::string missing = "model.layers.1.mlp.down_proj.weight";
  rewrite_shard(dir / "model.safetensors", missing, "");
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  EXPECT_NE(message.find(dir.path().string()), std::string::npos) << message;
}

TEST(ModelTest, MisShapedTensorNamesItsShard) {
  test::TempDir dir;
  const fs::path source = test::fixtures_dir() / "llama_sharded";
  for (const auto& entry : fs::directory_iterator(source)) {
    fs::copy_file(entry.path(), dir / entry.path().filename().string());
  }
  const auto index = nlohmann::json::parse(test::read_file(dir / "model.safetensors.index.json"));
  const std::string shard = "model-00002-of-00003.safetensors";
  std::string victim;
  for (const auto& [name, file] : index["weight_map"].items()) {
    if (file == shard && name.find(".weight") != std::string::npos) victim = name;
  }
  ASSERT_FALSE(victim.empty());
  rewrite_shard(dir / shard, "", victim);
  const std::string message = load_error(dir.path());
  EXPECT_NE(message.find(victim), std::string::npos) << message;
  EXPECT_NE(message.find(shard), std::string::npos) << message;
  EXPECT_NE(message.find("[1]"), std::string::npos) << message;
}

}  // namespace
}  // namespace ptq::model
