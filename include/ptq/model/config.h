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

// config["rope_scaling"] as transformers' modeling_rope_utils reads it; src/model/rotary.cpp
// turns it into inverse frequencies and an attention factor.
struct RopeScaling {
  enum class Type { Default, Linear, Dynamic, Llama3, Yarn };
  Type type = Type::Default;
  double factor = 1.0;
  // The context the model was trained with (llama3, yarn); max_position_embeddings if unset.
  std::optional<int64_t> original_max_position_embeddings;
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  // yarn
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  std::optional<double> attention_factor;
  std::optional<double> mscale;
  std::optional<double> mscale_all_dim;
  bool truncate = true;
};

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
  RopeScaling rope_scaling;
  // Mistral: query i attends to keys j with i - window < j <= i; unset = full causal.
  std::optional<int64_t> sliding_window;
  // Which layers use sliding_window: from layer_types ("sliding_attention"), or Qwen2/Qwen3's
  // index >= max_window_layers; layers past the end of the list use it, so empty = every layer
  // (Mistral, Phi-3). Gemma without layer_types: sliding_pattern instead. Read through
  // is_sliding_layer() and layer_window().
  std::vector<bool> window_layers;
  // Gemma: layer i slides iff (i + 1) % sliding_pattern != 0 (Gemma 2: 2; Gemma 3's
  // sliding_window_pattern, 6 by default); 0: window_layers decides.
  int64_t sliding_pattern = 0;
  // Qwen3 and Gemma 3: per-head RMSNorm of queries and keys (self_attn.q_norm / k_norm)
  // before RoPE.
  bool qk_norm = false;

  // OPT
  bool do_layer_norm_before = true;
  bool remove_final_layer_norm = false;  // config "_remove_final_layer_norm"
  int64_t word_embed_proj_dim = 0;       // == hidden_size unless a projection exists

  // GPT-NeoX
  double rotary_pct = 1.0;
  bool use_parallel_residual = true;

  // Gemma 2 / Gemma 3 (text)
  double rope_local_theta = 10000.0;  // RoPE base of the sliding layers (Gemma 3)
  double query_pre_attn_scalar = 0;   // attention scores are scaled by its inverse square root
  std::optional<double> attn_logit_softcapping;   // scores -> cap * tanh(scores / cap)
  std::optional<double> final_logit_softcapping;  // logits -> cap * tanh(logits / cap)

  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> eos_token_id;
  std::string torch_dtype;  // as stored; computation is fp32 on CPU regardless

  nlohmann::json raw;  // the whole file, for writers that copy it forward
};

// Whether decoder layer `index` is of the sliding kind (window_layers, sliding_pattern), and
// its window: sliding_window for those layers, none for the others.
bool is_sliding_layer(const ModelConfig& config, int64_t index);
std::optional<int64_t> layer_window(const ModelConfig& config, int64_t layer);

// `path` is a model directory or a config.json file. Throws InputError naming the file and
// the missing/invalid key, or listing the supported architectures for an unknown one.
ModelConfig load_model_config(const std::string& path);
ModelConfig parse_model_config(const nlohmann::json& json, const std::string& source);

}  // namespace ptq::model
