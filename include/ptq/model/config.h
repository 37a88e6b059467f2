#pragma once
// A Hugging Face `config.json` read into one typed struct covering every supported
// architecture. Which fields matter depends on `family`; the registry
// (ptq/model/architecture.h) says which `architectures` entries map to which family.
//
//   ptq::model::ModelConfig config = ptq::model::load_model_config("models/opt-125m");

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ptq::model {

enum class ArchFamily { Llama, Opt, GptNeoX, Gemma };

struct ModelConfig {
  std::string architecture;  // e.g. "LlamaForCausalLM", from config["architectures"][0]
  std::string model_type;    // e.g. "llama"
  ArchFamily family = ArchFamily::Llama;

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;  // OPT: ffn_dim
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;  // == num_heads without grouped-query attention
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double norm_eps = 1e-5;  // rms_norm_eps or layer_norm_eps
  std::string hidden_act;  // "silu", "relu", "gelu", ...
  bool tie_word_embeddings = false;

  // Which linears carry a bias: q/k/v (or NeoX's fused query_key_value), the attention output
  // projection, and the MLP. Qwen2 has q/k/v bias only; OPT and GPT-NeoX have all three.
  bool attention_bias = false;
  bool attention_out_bias = false;
  bool mlp_bias = false;

  // Rotary embeddings (LLaMA family; GPT-NeoX's rotary_emb_base)
  double rope_theta = 10000.0;
  // Mistral: query i attends to keys j with i - window < j <= i; unset = full causal.
  std::optional<int64_t> sliding_window;

  // OPT
  bool do_layer_norm_before = true;
  bool remove_final_layer_norm = false;  // config "_remove_final_layer_norm"
  int64_t word_embed_proj_dim = 0;       // == hidden_size unless a projection exists

  // GPT-NeoX
  double rotary_pct = 1.0;
  bool use_parallel_residual = true;

  // Gemma 2 / Gemma 3 (text)
  // Which layers attend within sliding_window, the others attending to every earlier position
  // (is_sliding_layer). From layer_types when the config lists them ("sliding_attention"), else
  // layer i slides iff (i + 1) % sliding_pattern != 0. Both unset for the other families, whose
  // sliding_window, if set, applies to every layer.
  std::vector<bool> sliding_layers;
  int64_t sliding_pattern = 0;
  double rope_local_theta = 10000.0;  // RoPE base of the sliding layers (Gemma 3)
  double query_pre_attn_scalar = 0;   // attention scores are scaled by its inverse square root
  std::optional<double> attn_logit_softcapping;   // scores -> cap * tanh(scores / cap)
  std::optional<double> final_logit_softcapping;  // logits -> cap * tanh(logits / cap)
  bool qk_norm = false;                           // Gemma 3's per-head q_norm and k_norm

  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> eos_token_id;
  std::string torch_dtype;  // as stored; computation is fp32 on CPU regardless

  nlohmann::json raw;  // the whole file, for writers that copy it forward
};

// Whether layer `index` of a Gemma model attends within sliding_window (ModelConfig::
// sliding_layers, sliding_pattern).
bool is_sliding_layer(const ModelConfig& config, int64_t index);

// `path` is a model directory or a config.json file. Throws InputError naming the file and
// the missing/invalid key, or listing the supported architectures for an unknown one.
ModelConfig load_model_config(const std::string& path);
ModelConfig parse_model_config(const nlohmann::json& json, const std::string& source);

}  // namespace ptq::model
