#include "ptq/format/checkpoint_summary.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "data/input_error.h"
#include "ptq/format/quantized_checkpoint_writer.h"
#include "ptq/model/causal_lm.h"
#include "ptq/quant/uniform_quantizer.h"
#include "test_utils.h"

namespace ptq::quant {
namespace {

namespace fs = std::filesystem;
using test::input_error;
using test::mentions;

fs::path stories_hf() { return test::shared_dir() / "models" / "stories260K-hf"; }
fs::path stories_bin() { return test::shared_dir() / "models" / "stories260K" / "stories260K.bin"; }

// stories260K from its config.json (vocab V 512, d 64, MLP h 172, 5 layers, 4 key/value heads
// of 8, tied embeddings): V d + 5 (2 d [norms] + 2 d d [q, o] + 2 (4 * 8) d [k, v] + 3 d h) + d
// = 32768 + 5 (128 + 8192 + 4096 + 33024) + 64 = 260032.
constexpr int64_t kStoriesParameters = 260032;

TEST(CheckpointSummary, Stories260KDirectory) {
  const CheckpointSummary s = summarize_checkpoint(stories_hf().string());
  EXPECT_EQ(s.format, "huggingface");
  ASSERT_TRUE(s.config);
  EXPECT_EQ(s.config->architecture, "LlamaForCausalLM");
  EXPECT_EQ(s.config->num_layers, 5);
  EXPECT_EQ(s.parameters, kStoriesParameters);
  EXPECT_EQ(s.fp16_bytes(), 2u * kStoriesParameters);
  // embeddings, final norm, and 9 tensors (2 norms, 7 linears) per layer.
  EXPECT_EQ(s.tensors.size(), 2u + 5 * 9);
  ASSERT_EQ(s.files.size(), 1u);
  EXPECT_EQ(s.file_bytes, 1044992u);  // ls -l shared/models/stories260K-hf/model.safetensors
  const std::map<std::string, uint64_t> f32 = {{"F32", 4u * kStoriesParameters}};
  EXPECT_EQ(s.bytes_by_dtype(), f32);
  EXPECT_FALSE(s.quantization);
}

TEST(CheckpointSummary, TensorKindsGroupTheLayers) {
  const CheckpointSummary s = summarize_checkpoint(stories_hf().string());
  const std::vector<TensorKind> kinds = tensor_kinds(s.tensors);
  ASSERT_EQ(kinds.size(), 2u + 9);
  EXPECT_EQ(kinds.front().first.name, "model.embed_tokens.weight");
  EXPECT_EQ(kinds.front().layers, 0);
  EXPECT_EQ(kinds.back().first.name, "model.norm.weight");
  for (size_t i = 1; i + 1 < kinds.size(); ++i) {
    EXPECT_EQ(kinds[i].layers, 5) << kinds[i].first.name;
    EXPECT_EQ(kinds[i].first.name.rfind("model.layers.0.", 0), 0u) << kinds[i].first.name;
  }
  const auto down = std::find_if(kinds.begin(), kinds.end(), [](const TensorKind& k) {
    return k.first.name == "model.layers.0.mlp.down_proj.weight";
  });
  ASSERT_NE(down, kinds.end());
  EXPECT_EQ(down->first.shape, (std::vector<int64_t>{64, 172}));
}

TEST(CheckpointSummary, TensorKindsSplitDifferentShapesAndTakeTheLowestLayer) {
  const std::vector<TensorSummary> tensors = {{"h.10.w", io::DType::F16, {4}},
                                              {"h.2.w", io::DType::F16, {4}},
                                              {"h.3.w", io::DType::F16, {8}}};
  const std::vector<TensorKind> kinds = tensor_kinds(tensors);
  ASSERT_EQ(kinds.size(), 2u);
  EXPECT_EQ(kinds[0].first.name, "h.2.w");
  EXPECT_EQ(kinds[0].layers, 2);
  EXPECT_EQ(kinds[1].first.name, "h.3.w");
  EXPECT_EQ(kinds[1].layers, 1);
}

TEST(CheckpointSummary, Llama2cBin) {
  const CheckpointSummary s = summarize_checkpoint(stories_bin().string());
  EXPECT_EQ(s.format, "llama2c");
  ASSERT_TRUE(s.config);
  EXPECT_EQ(s.config->num_kv_heads, 4);
  // The RoPE tables (2 x 512 positions x 4) are stored but are not parameters.
  EXPECT_EQ(s.parameters, kStoriesParameters);
  EXPECT_EQ(s.tensors.size(), 13u);  // llama2.c's layout with a shared classifier
  EXPECT_EQ(s.file_bytes, 28u + 4u * (kStoriesParameters + 2 * 512 * 4));
}

TEST(CheckpointSummary, SingleSafetensorsFile) {
  const CheckpointSummary s = summarize_checkpoint((stories_hf() / "model.safetensors").string());
  EXPECT_EQ(s.format, "safetensors");
  EXPECT_FALSE(s.config);
  EXPECT_EQ(s.parameters, kStoriesParameters);
}

// stories260K with every linear RTN-quantized at 3 bits in groups of 32, activations at 8
// bits, and a side store of 41 kept weights on layer 0's q_proj.
fs::path write_quantized(const fs::path& out) {
  QuantizationFormat format;
  format.bits = 3;
  format.group_size = 32;
  format.method = "rtn";
  format.activations.bits = 8;
  QuantizerConfig config;
  config.bits = 3;
  const UniformQuantizer quantizer(config);
  const auto lm = model::load_causal_lm(stories_hf().string());
  QuantizedCheckpointWriter writer(stories_hf().string(), out.string(), format, 1ull << 30);
  for (int64_t layer = 0; layer < lm->num_layers(); ++layer) {
    for (const std::string& module : lm->linear_names(layer)) {
      writer.add_quantized_linear(module,
                                  quantize_rtn(lm->weight(module + ".weight"), quantizer, 32), {});
    }
  }
  writer.add_tensor("model.layers.0.self_attn.q_proj.outlier_idx", at::arange(41, at::kInt) * 3);
  writer.add_tensor("model.layers.0.self_attn.q_proj.outlier_val", at::ones({41}, at::kHalf));
  writer.finish();
  return out;
}

// Per layer, (N, K) = q (64, 64), k and v (32, 64), o (64, 64), gate and up (172, 64),
// down (64, 172); G = ceil(K / 32) = 2 for K 64, 6 for K 172.
//   weights N K: 4096 + 2 * 2048 + 4096 + 2 * 11008 + 11008 = 45312, x 5 = 226560
//   scales G N:  128 + 2 * 64 + 128 + 2 * 344 + 384 = 1456, x 5 = 7280
//   g_idx K:     6 * 64 + 172 = 556, x 5 = 2780
// bits: codes 3 * 226560 = 679680, grids (16 + 3) * 7280 = 138320, g_idx 32 * 2780 = 88960,
// side store 41 * (32 + 16) = 1968; 908928 in all.
TEST(CheckpointSummary, QuantizedDirectoryEffectiveBitsAndSizes) {
  test::TempDir tmp;
  const fs::path out = write_quantized(tmp / "q");
  const CheckpointSummary s = summarize_checkpoint(out.string());
  ASSERT_TRUE(s.quantization);
  const QuantizationSummary& q = *s.quantization;
  EXPECT_EQ(q.format.method, "rtn");
  EXPECT_EQ(q.format.bits, 3);
  EXPECT_EQ(q.format.group_size, 32);
  EXPECT_EQ(q.format.activations.bits, 8);
  EXPECT_EQ(q.linears, 35);
  EXPECT_EQ(q.storage.weights, 226560);
  EXPECT_EQ(q.storage.codes, 679680);
  EXPECT_EQ(q.storage.grids, 138320);
  EXPECT_EQ(q.storage.g_idx, 88960);
  EXPECT_EQ(q.storage.extra, 1968);
  EXPECT_DOUBLE_EQ(q.storage.per_weight(), 908928.0 / 226560);
  EXPECT_EQ(q.kept_weights, 41);
  EXPECT_DOUBLE_EQ(q.kept_percent(), 100.0 * 41 / 226560);
  // The quantized linears stand for their N K weights: the parameters are the original's.
  EXPECT_EQ(s.parameters, kStoriesParameters);
  // Tensor bytes per layer: qweight int32 [ceil(K/32) 3, N] 1536 + 2 * 768 + 1536 + 2 * 4128 +
  // 4608 = 17472; qzeros int32 [G, ceil(N/32) 3] 48 + 2 * 24 + 48 + 3 * 144 = 576; g_idx
  // 4 * 556 = 2224; scales fp16 2 * 1456 = 2912; the norms stay f32, 2 * 64 * 4 = 512.
  const std::map<std::string, uint64_t> bytes = {{"I32", 5 * (17472 + 576 + 2224) + 41 * 4},
                                                 {"F16", 5 * 2912 + 41 * 2},
                                                 {"F32", 5 * 512 + 512 * 64 * 4 + 64 * 4}};
  EXPECT_EQ(s.bytes_by_dtype(), bytes);
  // One file: 8 bytes of header length, the header, the data.
  ASSERT_EQ(s.files.size(), 1u);
  uint64_t header = 0;
  std::ifstream(s.files[0], std::ios::binary).read(reinterpret_cast<char*>(&header), 8);
  EXPECT_EQ(s.file_bytes, 8 + header + 101524 + 14642 + 133888);
}

TEST(CheckpointSummary, JsonListsEveryTensorAndTheQuantization) {
  test::TempDir tmp;
  const fs::path out = write_quantized(tmp / "q");
  const nlohmann::json j = checkpoint_summary_json(summarize_checkpoint(out.string()));
  // Per layer 2 norms + 35 / 5 linears x 4 GPTQ tensors; embeddings, final norm; side store.
  EXPECT_EQ(j["tensors"].size(), 5u * (2 + 7 * 4) + 2 + 2);
  EXPECT_EQ(j["parameters"], kStoriesParameters);
  EXPECT_EQ(j["quantization"]["bits"], 3);
  EXPECT_EQ(j["quantization"]["kept_weights"], 41);
  EXPECT_DOUBLE_EQ(j["quantization"]["bits_per_weight"].get<double>(), 908928.0 / 226560);
  EXPECT_EQ(j["architecture"]["layers"], 5);
}

TEST(CheckpointSummary, ConfigBitsThatDisagreeWithTheTensors) {
  test::TempDir tmp;
  const fs::path out = write_quantized(tmp / "q");
  nlohmann::json config = nlohmann::json::parse(test::read_file(out / "config.json"));
  config["quantization_config"]["bits"] = 4;
  test::write_file(out / "config.json", config.dump());
  const std::string message = input_error([&] { summarize_checkpoint(out.string()); });
  EXPECT_TRUE(mentions(message, out.string()));
  EXPECT_TRUE(mentions(message, ".qweight"));
  EXPECT_TRUE(mentions(message, "4 bits"));
}

TEST(CheckpointSummary, QuantizedTensorsWithoutAConfig) {
  test::TempDir tmp;
  const fs::path out = write_quantized(tmp / "q");
  nlohmann::json config = nlohmann::json::parse(test::read_file(out / "config.json"));
  config.erase("quantization_config");
  test::write_file(out / "config.json", config.dump());
  fs::remove(out / "quantize_config.json");
  const std::string message = input_error([&] { summarize_checkpoint(out.string()); });
  EXPECT_TRUE(mentions(message, out.string()));
  EXPECT_TRUE(mentions(message, "no quantization config"));
}

TEST(CheckpointSummary, BadPathsNameTheFile) {
  test::TempDir tmp;
  EXPECT_TRUE(mentions(input_error([&] { summarize_checkpoint((tmp / "nope").string()); }),
                       (tmp / "nope").string()));
  test::write_file(tmp / "notes.txt", "hello");
  EXPECT_TRUE(mentions(input_error([&] { summarize_checkpoint((tmp / "notes.txt").string()); }),
                       (tmp / "notes.txt").string()));
  test::write_file(tmp / "bad.safetensors", std::string("\x10\0\0\0\0\0\0\0{", 9));
  EXPECT_TRUE(
      mentions(input_error([&] { summarize_checkpoint((tmp / "bad.safetensors").string()); }),
               (tmp / "bad.safetensors").string()));
  test::write_file(tmp / "short.bin", "1234");
  EXPECT_TRUE(mentions(input_error([&] { summarize_checkpoint((tmp / "short.bin").string()); }),
                       (tmp / "short.bin").string()));
}

}  // namespace
}  // namespace ptq::quant
