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
#include "ptq/model/config.h"
#include "ptq/model/tensor_table.h"

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

// The tensors are the LLaMA table's (ptq/model/tensor_table.h): norms ones, the rest random.
inline void write_random_llama(const std::filesystem::path& dir, const LlamaShape& s) {
  const nlohmann::json config = llama_config(s);
  io::SafetensorsWriter writer;
  for (const model::TensorSpec& tensor :
       model::checkpoint_specs(model::parse_model_config(config, "random LLaMA"))) {
    writer.add(tensor.name,
               tensor.shape.size() == 1 ? at::ones(tensor.shape) : at::randn(tensor.shape) * 0.02);
  }
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << config.dump(2);
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
