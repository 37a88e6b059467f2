#pragma once
// A random LLaMA checkpoint of any size in the exact Hugging Face layout (config.json and an
// fp32 model.safetensors), for tests that need a model of a given shape or byte size.

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ptq/io/safetensors.h"
#include "ptq/model/architecture.h"
#include "ptq/model/config.h"
#include "ptq/model/tensor_table.h"
#include "test_utils.h"

namespace ptq::test {

struct LlamaShape {
  int64_t hidden;
  int64_t intermediate;
  int64_t layers;
  int64_t vocab;
  int64_t heads;
};

// config.json of a LLaMA of shape `s` with an untied head.
inline nlohmann::json random_llama_config(const LlamaShape& s) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_act", "silu"},
          {"hidden_size", s.hidden},
          {"intermediate_size", s.intermediate},
          {"max_position_embeddings", 128},
          {"num_attention_heads", s.heads},
          {"num_hidden_layers", s.layers},
          {"num_key_value_heads", s.heads},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 10000.0},
          {"tie_word_embeddings", false},
          {"vocab_size", s.vocab}};
}

inline model::ModelConfig random_llama_model_config(const LlamaShape& s) {
  return model::parse_model_config(random_llama_config(s), "random LLaMA");
}

// The tensors outside the layers, and those of layer `layer`, as the LLaMA table names them.
inline std::vector<model::TensorSpec> llama_global_tensors(const LlamaShape& s) {
  const model::ModelConfig config = random_llama_model_config(s);
  return model::global_specs(model::find_architecture(config.architecture).table(), config);
}

inline std::vector<model::TensorSpec> llama_layer_tensors(const LlamaShape& s, int64_t layer) {
  const model::ModelConfig config = random_llama_model_config(s);
  return model::layer_specs(model::find_architecture(config.architecture).table(), config, layer);
}

inline int64_t fp32_bytes(const std::vector<model::TensorSpec>& tensors) {
  int64_t bytes = 0;
  for (const model::TensorSpec& tensor : tensors) {
    int64_t numel = 1;
    for (const int64_t dim : tensor.shape) numel *= dim;
    bytes += numel * 4;
  }
  return bytes;
}

inline int64_t llama_layers_bytes(const LlamaShape& s) {
  int64_t bytes = 0;
  for (int64_t i = 0; i < s.layers; ++i) bytes += fp32_bytes(llama_layer_tensors(s, i));
  return bytes;
}

// config.json and a random model.safetensors (fp32 unless `dtype` says otherwise) in `dir`;
// `mis_shaped` (if named) is written with one row too few.
inline void write_random_llama(const std::filesystem::path& dir,
                               const LlamaShape& s,
                               const std::string& mis_shaped = "",
                               at::ScalarType dtype = at::kFloat) {
  write_file(dir / "config.json", random_llama_config(s).dump(2));
  io::SafetensorsWriter writer;
  for (model::TensorSpec& tensor : model::checkpoint_specs(random_llama_model_config(s))) {
    if (tensor.name == mis_shaped) --tensor.shape[0];
    writer.add(tensor.name, (at::randn(tensor.shape) * 0.02).to(dtype));
  }
  writer.write((dir / "model.safetensors").string());
}

}  // namespace ptq::test
