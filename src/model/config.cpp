#include "ptq/model/config.h"

#include <filesystem>

#include "io/read_file.h"
#include "model/layers.h"
#include "ptq/common/error.h"
#include "ptq/model/architecture.h"

namespace ptq::model {
namespace {

// Typed access to one config.json; every error names the file and the key. A key set to
// null counts as absent, as transformers treats it (e.g. Mistral's "head_dim": null).
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& json, const std::string& source)
      : _json(json), _source(source) {}

  const std::string& source() const { return _source; }
  bool has(const char* key) const { return find(key) != nullptr; }

  int64_t required_int(const char* key) const {
    const nlohmann::json* value = find(key);
    PTQ_CHECK_INPUT(value, _source, ": missing key '", key, "'");
    return as_int(key, *value);
  }

  int64_t int_or(const char* key, int64_t fallback) const {
    const nlohmann::json* value = find(key);
    return value ? as_int(key, *value) : fallback;
  }

  double number_or(const char* key, double fallback) const {
    const nlohmann::json* value = find(key);
    if (!value) return fallback;
    PTQ_CHECK_INPUT(value->is_number(), _source, ": key '", key, "' must be a number");
    return value->get<double>();
  }

  bool bool_or(const char* key, bool fallback) const {
    const nlohmann::json* value = find(key);
    if (!value) return fallback;
    PTQ_CHECK_INPUT(value->is_boolean(), _source, ": key '", key, "' must be true or false");
    return value->get<bool>();
  }

  std::string string_or(const char* key, const std::string& fallback) const {
    const nlohmann::json* value = find(key);
    if (!value) return fallback;
    PTQ_CHECK_INPUT(value->is_string(), _source, ": key '", key, "' must be a string");
    return value->get<std::string>();
  }

  // Token ids may be one id or a list (Llama 3 lists several eos ids): the first one.
  std::optional<int64_t> token_id(const char* key) const {
    const nlohmann::json* value = find(key);
    if (!value) return std::nullopt;
    if (value->is_array()) {
      if (value->empty()) return std::nullopt;
      return as_int(key, value->front());
    }
    return as_int(key, *value);
  }

 private:
  const nlohmann::json* find(const char* key) const {
    auto it = _json.find(key);
    return it == _json.end() || it->is_null() ? nullptr : &*it;
  }

  int64_t as_int(const char* key, const nlohmann::json& value) const {
    PTQ_CHECK_INPUT(value.is_number_integer(), _source, ": key '", key, "' must be an integer");
    return value.get<int64_t>();
  }

  const nlohmann::json& _json;
  const std::string& _source;
};

void read_common_sizes(const ConfigReader& in, ModelConfig& config) {
  config.vocab_size = in.required_int("vocab_size");
  config.hidden_size = in.required_int("hidden_size");
  config.num_layers = in.required_int("num_hidden_layers");
  config.num_heads = in.required_int("num_attention_heads");
  config.num_kv_heads = config.num_heads;
  config.head_dim = config.num_heads > 0 ? config.hidden_size / config.num_heads : 0;
  config.max_position_embeddings = in.int_or("max_position_embeddings", 2048);
}

void reject_rope_scaling(const ConfigReader& in) {
  PTQ_CHECK_INPUT(!in.has("rope_scaling"), in.source(),
                  ": rope_scaling is not supported (only plain rotary embeddings are)");
}

// Phi3Config beyond LlamaConfig: no bias anywhere (every Phi-3 linear is bias-free, whatever the
// config says), partial_rotary_factor, and a sliding_window that applies whenever it is set
// (modeling_phi3 builds the sliding-window mask from it alone). Its default eps is 1e-5.
void read_phi3_differences(const ConfigReader& in, ModelConfig& config) {
  PTQ_CHECK_INPUT(!in.has("rope_scaling"), in.source(),
                  ": rope_scaling is not supported (the 128k Phi-3 variants' 'longrope'/'su'); "
                  "the 4k variants, with rope_scaling null, are");
  config.norm_eps = in.number_or("rms_norm_eps", 1e-5);
  config.rotary_pct = in.number_or("partial_rotary_factor", 1.0);
  if (in.has("sliding_window")) config.sliding_window = in.required_int("sliding_window");
}

// LlamaConfig / MistralConfig / Qwen2Config / Phi3Config, with the defaults of those classes.
void read_llama(const ConfigReader& in, ModelConfig& config) {
  config.intermediate_size = in.required_int("intermediate_size");
  config.num_kv_heads = in.int_or("num_key_value_heads", config.num_heads);
  config.head_dim = in.int_or("head_dim", config.head_dim);
  config.norm_eps = in.number_or("rms_norm_eps", 1e-6);
  config.hidden_act = in.string_or("hidden_act", "silu");
  config.rope_theta = in.number_or("rope_theta", 10000.0);
  config.tie_word_embeddings = in.bool_or("tie_word_embeddings", false);
  if (config.architecture == "Phi3ForCausalLM") {
    read_phi3_differences(in, config);
    return;
  }
  reject_rope_scaling(in);
  if (config.architecture == "Qwen2ForCausalLM") {
    // Qwen2Attention: q/k/v always biased, o_proj never; no config key controls it.
    config.attention_bias = true;
    PTQ_CHECK_INPUT(!in.bool_or("use_sliding_window", false), in.source(),
                    ": use_sliding_window=true is not supported");
  } else {
    config.attention_bias = in.bool_or("attention_bias", false);
    config.attention_out_bias = config.attention_bias;  // LlamaAttention: on o_proj too
    config.mlp_bias = in.bool_or("mlp_bias", false);
  }
  if (config.architecture == "MistralForCausalLM" && in.has("sliding_window")) {
    config.sliding_window = in.required_int("sliding_window");
  }
}

// OPTConfig. nn.LayerNorm's default eps (1e-5) applies: OPT configs carry no eps key.
void read_opt(const ConfigReader& in, ModelConfig& config) {
  config.intermediate_size = in.required_int("ffn_dim");
  config.norm_eps = 1e-5;
  config.hidden_act = in.string_or("activation_function", "relu");
  config.tie_word_embeddings = in.bool_or("tie_word_embeddings", true);
  config.do_layer_norm_before = in.bool_or("do_layer_norm_before", true);
  config.remove_final_layer_norm = in.bool_or("_remove_final_layer_norm", false);
  config.word_embed_proj_dim = in.int_or("word_embed_proj_dim", config.hidden_size);
  const bool bias = in.bool_or("enable_bias", true);
  config.attention_bias = config.attention_out_bias = config.mlp_bias = bias;
  PTQ_CHECK_INPUT(in.bool_or("layer_norm_elementwise_affine", true), in.source(),
                  ": layer_norm_elementwise_affine=false is not supported");
}

// GPTNeoXConfig.
void read_gpt_neox(const ConfigReader& in, ModelConfig& config) {
  config.intermediate_size = in.required_int("intermediate_size");
  config.norm_eps = in.number_or("layer_norm_eps", 1e-5);
  config.hidden_act = in.string_or("hidden_act", "gelu");
  config.tie_word_embeddings = in.bool_or("tie_word_embeddings", false);
  config.rotary_pct = in.number_or("rotary_pct", 0.25);
  config.rope_theta = in.number_or("rotary_emb_base", in.number_or("rope_theta", 10000.0));
  config.use_parallel_residual = in.bool_or("use_parallel_residual", true);
  config.attention_bias = config.attention_out_bias = in.bool_or("attention_bias", true);
  config.mlp_bias = true;
  reject_rope_scaling(in);
}

void check_shapes(const ModelConfig& c, const std::string& source) {
  PTQ_CHECK_INPUT(c.vocab_size > 0 && c.hidden_size > 0 && c.intermediate_size > 0 &&
                      c.num_layers > 0 && c.num_heads > 0 && c.num_kv_heads > 0 && c.head_dim > 0,
                  source, ": sizes must be positive");
  PTQ_CHECK_INPUT(c.num_heads % c.num_kv_heads == 0, source, ": num_attention_heads (", c.num_heads,
                  ") is not a multiple of num_key_value_heads (", c.num_kv_heads, ")");
  if (c.family != ArchFamily::Llama) {
    PTQ_CHECK_INPUT(c.head_dim * c.num_heads == c.hidden_size, source, ": hidden_size (",
                    c.hidden_size, ") is not a multiple of num_attention_heads (", c.num_heads,
                    ")");
  }
  const int64_t rotary_dims = static_cast<int64_t>(c.head_dim * c.rotary_pct);
  PTQ_CHECK_INPUT(c.rotary_pct > 0 && c.rotary_pct <= 1 && rotary_dims % 2 == 0, source,
                  ": rotary_pct ", c.rotary_pct, " must select an even number of dims");
  PTQ_CHECK_INPUT(!c.sliding_window || *c.sliding_window > 0, source,
                  ": sliding_window must be positive");
}

}  // namespace

ModelConfig parse_model_config(const nlohmann::json& json, const std::string& source) {
  PTQ_CHECK_INPUT(json.is_object(), source, ": expected a JSON object");
  const auto archs = json.find("architectures");
  PTQ_CHECK_INPUT(
      archs != json.end() && archs->is_array() && !archs->empty() && archs->front().is_string(),
      source, ": missing key 'architectures'");
  ModelConfig config;
  config.architecture = archs->front().get<std::string>();
  config.family = find_architecture(config.architecture).family;
  const ConfigReader in(json, source);
  config.model_type = in.string_or("model_type", "");
  config.torch_dtype = in.string_or("torch_dtype", "");
  config.bos_token_id = in.token_id("bos_token_id");
  config.eos_token_id = in.token_id("eos_token_id");
  read_common_sizes(in, config);
  switch (config.family) {
    case ArchFamily::Llama:
      read_llama(in, config);
      break;
    case ArchFamily::Opt:
      read_opt(in, config);
      break;
    case ArchFamily::GptNeoX:
      read_gpt_neox(in, config);
      break;
  }
  if (config.word_embed_proj_dim == 0) config.word_embed_proj_dim = config.hidden_size;
  check_shapes(config, source);
  try {
    parse_activation(config.hidden_act);
  } catch (const InputError& e) {
    PTQ_THROW_INPUT(source, ": ", e.what());
  }
  config.raw = json;
  return config;
}

ModelConfig load_model_config(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path file = fs::is_directory(path) ? fs::path(path) / "config.json" : fs::path(path);
  return parse_model_config(io::read_json_file(file.string()), file.string());
}

}  // namespace ptq::model
