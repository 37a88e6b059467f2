#pragma once
// A random LLaMA checkpoint of any size in the exact Hugging Face layout (config.json and an
// fp32 model.safetensors), for tests that need a model of a given shape or byte size.

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "ptq/io/safetensors.h"
#include "test_utils.h"

namespace ptq::test {

struct LlamaShape {
  int64_t hidden;
  int64_t intermediate;
  int64_t layers;
  int64_t vocab;
  int64_t heads;
};

using TensorShapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;

// The tensors outside the layers of a LLaMA with an untied head.
inline TensorShapes llama_global_tensors(const LlamaShape& s) {
  return {{"model.embed_tokens.weight", {s.vocab, s.hidden}},
          {"model.norm.weight", {s.hidden}},
          {"lm_head.weight", {s.vocab, s.hidden}}};
}

inline TensorShapes llama_layer_tensors(const LlamaShape& s, int64_t layer) {
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  const int64_t d = s.hidden, ff = s.intermediate;
  return {{p + "input_layernorm.weight", {d}},     {p + "post_attention_layernorm.weight", {d}},
          {p + "self_attn.q_proj.weight", {d, d}}, {p + "self_attn.k_proj.weight", {d, d}},
          {p + "self_attn.v_proj.weight", {d, d}}, {p + "self_attn.o_proj.weight", {d, d}},
          {p + "mlp.gate_proj.weight", {ff, d}},   {p + "mlp.up_proj.weight", {ff, d}},
          {p + "mlp.down_proj.weight", {d, ff}}};
}

inline int64_t fp32_bytes(const TensorShapes& tensors) {
  int64_t bytes = 0;
  for (const auto& [name, shape] : tensors) {
    int64_t numel = 1;
    for (const int64_t dim : shape) numel *= dim;
    bytes += numel * 4;
  }
  return bytes;
}

inline int64_t llama_layers_bytes(const LlamaShape& s) {
  int64_t bytes = 0;
  for (int64_t i = 0; i < s.layers; ++i) bytes += fp32_bytes(llama_layer_tensors(s, i));
  return bytes;
}

// config.json and a random fp32 model.safetensors in `dir`; `mis_shaped` (if named) is
// written with one row too few.
inline void write_random_llama(const std::filesystem::path& dir,
                        const LlamaShape& s,
                        const std::string& mis_shaped = "") {
  const nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}},
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
  write_file(dir / "config.json", config.dump(2));
  TensorShapes tensors = llama_global_tensors(s);
  for (int64_t i = 0; i < s.layers; ++i) {
    for (auto& tensor : llama_layer_tensors(s, i)) tensors.push_back(std::move(tensor));
  }
  io::SafetensorsWriter writer;
  for (auto& [name, shape] : tensors) {
    if (name == mis_shaped) --shape[0];
    writer.add(name, at::randn(shape) * 0.02);
  }
  writer.write((dir / "model.safetensors").string());
}

}  // namespace ptq::test
