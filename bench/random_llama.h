#pragma once
// A random LLaMA-shaped model for the benchmarks, written as a Hugging Face checkpoint to a
// temporary directory and loaded like any other.

#include <ATen/ATen.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ptq/io/safetensors.h"
#include "ptq/model/causal_lm.h"

namespace ptq::bench {

struct LlamaShape {
  int64_t hidden = 512;  // a multiple of 64 (heads of 64)
  int64_t layers = 4;
  int64_t vocab = 32000;
  int64_t positions = 512;
  int64_t intermediate = 0;  // 0: LLaMA's MLP ratio (intermediate_size below)
};

// LLaMA's MLP ratio (11008 / 4096), rounded up to a multiple of 64 as its configs are.
inline int64_t intermediate_size(int64_t hidden) { return (hidden * 43 / 16 + 63) / 64 * 64; }

inline int64_t intermediate_size(const LlamaShape& s) {
  return s.intermediate > 0 ? s.intermediate : intermediate_size(s.hidden);
}

inline nlohmann::json llama_config(const LlamaShape& s) {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", s.hidden},
          {"intermediate_size", intermediate_size(s)},
          {"num_hidden_layers", s.layers},
          {"num_attention_heads", s.hidden / 64},
          {"num_key_value_heads", s.hidden / 64},
          {"vocab_size", s.vocab},
          {"max_position_embeddings", s.positions},
          {"rms_norm_eps", 1e-5},
          {"rope_theta", 10000.0},
          {"hidden_act", "silu"},
          {"tie_word_embeddings", false},
          {"bos_token_id", 1},
          {"eos_token_id", 2},
          {"torch_dtype", "float32"}};
}

inline void write_random_llama(const std::filesystem::path& dir, const LlamaShape& s) {
  const int64_t h = s.hidden;
  const int64_t ffn = intermediate_size(s);
  io::SafetensorsWriter writer;
  auto add = [&writer](const std::string& name, std::vector<int64_t> shape) {
    writer.add(name, shape.size() == 1 ? at::ones(shape) : at::randn(shape) * 0.02);
  };
  add("model.embed_tokens.weight", {s.vocab, h});
  add("model.norm.weight", {h});
  add("lm_head.weight", {s.vocab, h});
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {h});
    add(p + "post_attention_layernorm.weight", {h});
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"}) {
      add(p + "self_attn." + proj + ".weight", {h, h});
    }
    add(p + "mlp.gate_proj.weight", {ffn, h});
    add(p + "mlp.up_proj.weight", {ffn, h});
    add(p + "mlp.down_proj.weight", {h, ffn});
  }
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << llama_config(s).dump(2);
  writer.write((dir / "model.safetensors").string());
}

inline std::unique_ptr<model::CausalLM> random_llama(const LlamaShape& s) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("ptq-bench-llama-" + std::to_string(getpid()));
  write_random_llama(dir, s);
  auto lm = model::load_causal_lm(dir.string());
  std::filesystem::remove_all(dir);
  return lm;
}

}  // namespace ptq::bench
