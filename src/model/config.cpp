#include "ptq/model/config.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

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
  // Set to null explicitly, which some keys (Gemma's soft-capping) use to mean "off".
  bool is_null(const char* key) const {
    auto it = _json.find(key);
    return it != _json.end() && it->is_null();
  }

  int64_t required_int(const char* key) const {
    const nlohmann::json* value = find(key);
    PTQ_CHECK_INPUT(value, _source, ": missing key '", key, "'");
    return as_int(key, *value);
  }

  int64_t int_or(const char* key, int64_t fallback) const {
    const nlohmann::json* value = find(key);
    return value ? as_int(key, *value) : fallback;
  }

  double required_number(const char* key) const {
    PTQ_CHECK_INPUT(has(key), _source, ": missing key '", key, "'");
    return number_or(key, 0.0);
  }

  double number_or(const char* key, double fallback) const {
    const nlohmann::json* value = find(key);
    if (!value) return fallback;
    PTQ_CHECK_INPUT(value->is_number(), _source, ": key '", key, "' must be a number");
    return value->get<double>();
  }

  std::optional<double> optional_number(const char* key) const {
    if (!has(key)) return std::nullopt;
    return number_or(key, 0.0);
  }

  // The value of `key` if it is a JSON object (null when absent); throws if it is another type.
  const nlohmann::json* object(const char* key) const {
    const nlohmann::json* value = find(key);
    PTQ_CHECK_INPUT(!value || value->is_object(), _source, ": key '", key, "' must be an object");
    return value;
  }

  // The value of `key` as a list of strings (empty when absent).
  std::vector<std::string> strings(const char* key) const {
    const nlohmann::json* value = find(key);
    if (!value) return {};
    PTQ_CHECK_INPUT(value->is_array(), _source, ": key '", key, "' must be a list");
    std::vector<std::string> out;
    for (const nlohmann::json& item : *value) {
      PTQ_CHECK_INPUT(item.is_string(), _source, ": key '", key, "' must list strings");
      out.push_back(item.get<std::string>());
    }
    return out;
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
  const std::string _source;
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

// config["rope_scaling"], keyed "rope_type" or, as configs written before transformers 4.43
// are, "type"; the keys each type requires are those of modeling_rope_utils'
// rope_config_validation. How they turn into frequencies: src/model/rotary.cpp.
void read_rope_scaling(const ConfigReader& in, ModelConfig& config) {
  const nlohmann::json* json = in.object("rope_scaling");
  if (json == nullptr) return;
  const ConfigReader rope(*json, in.source() + ": rope_scaling");
  const std::string type = rope.string_or("rope_type", rope.string_or("type", "default"));
  RopeScaling& s = config.rope_scaling;
  using Type = RopeScaling::Type;
  if (type == "default") return;
  if (type == "linear") {
    s.type = Type::Linear;
  } else if (type == "dynamic") {
    s.type = Type::Dynamic;
  } else if (type == "llama3") {
    s.type = Type::Llama3;
  } else if (type == "yarn") {
    s.type = Type::Yarn;
  } else {
    PTQ_THROW_INPUT(in.source(), ": rope_scaling type '", type,
                    "' is not supported; supported: default, linear, dynamic, llama3, yarn");
  }
  s.factor = rope.required_number("factor");
  PTQ_CHECK_INPUT(s.factor > 0, rope.source(), ": factor must be positive");
  if (rope.has("original_max_position_embeddings")) {
    s.original_max_position_embeddings = rope.required_int("original_max_position_embeddings");
    PTQ_CHECK_INPUT(*s.original_max_position_embeddings > 0, rope.source(),
                    ": original_max_position_embeddings must be positive");
  }
  if (s.type == Type::Llama3) {
    PTQ_CHECK_INPUT(s.original_max_position_embeddings, rope.source(),
                    ": missing key 'original_max_position_embeddings'");
    s.low_freq_factor = rope.required_number("low_freq_factor");
    s.high_freq_factor = rope.required_number("high_freq_factor");
    PTQ_CHECK_INPUT(s.low_freq_factor > 0 && s.high_freq_factor > s.low_freq_factor, rope.source(),
                    ": need 0 < low_freq_factor < high_freq_factor");
  }
  if (s.type == Type::Yarn) {
    // `beta_fast or 32` in transformers: 0 and null take the default too.
    const double beta_fast = rope.number_or("beta_fast", 0.0);
    const double beta_slow = rope.number_or("beta_slow", 0.0);
    if (beta_fast != 0.0) s.beta_fast = beta_fast;
    if (beta_slow != 0.0) s.beta_slow = beta_slow;
    s.attention_factor = rope.optional_number("attention_factor");
    s.mscale = rope.optional_number("mscale");
    s.mscale_all_dim = rope.optional_number("mscale_all_dim");
    s.truncate = rope.bool_or("truncate", true);
  }
}

// config["layer_types"] (transformers' newer configs): which layers attend within
// sliding_window, one entry per layer, into config.window_layers.
void read_layer_types(const ConfigReader& in,
                      const std::vector<std::string>& types,
                      ModelConfig& config) {
  PTQ_CHECK_INPUT(static_cast<int64_t>(types.size()) == config.num_layers, in.source(),
                  ": layer_types lists ", types.size(), " layers, num_hidden_layers is ",
                  config.num_layers);
  for (const std::string& type : types) {
    PTQ_CHECK_INPUT(type == "sliding_attention" || type == "full_attention", in.source(),
                    ": layer_types entry '", type,
                    "' is not supported; supported: sliding_attention, full_attention");
    config.window_layers.push_back(type == "sliding_attention");
  }
}

// Qwen2Config / Qwen3Config: with use_sliding_window, the layers that layer_types marks
// "sliding_attention", or without layer_types those with index >= max_window_layers, attend
// within sliding_window (modeling_qwen2 / modeling_qwen3: self.sliding_window is set only for
// those layers); without it, no layer does.
void read_qwen_window(const ConfigReader& in, ModelConfig& config) {
  if (!in.bool_or("use_sliding_window", false)) return;
  config.sliding_window = in.int_or("sliding_window", 4096);
  const std::vector<std::string> types = in.strings("layer_types");
  if (types.empty()) {
    // Layers past the end of window_layers use the window (layer_window()), so the first
    // max_window_layers entries say it all, however large num_hidden_layers claims to be.
    const int64_t full = in.int_or("max_window_layers", 28);
    if (full >= config.num_layers) {
      config.sliding_window.reset();
      return;
    }
    config.window_layers.assign(std::max<int64_t>(full, 0), false);
    return;
  }
  read_layer_types(in, types, config);
}

// LlamaConfig / MistralConfig / Qwen2Config / Qwen3Config / Phi3Config, with the defaults of
// those classes.
void read_llama(const ConfigReader& in, ModelConfig& config) {
  const bool qwen2 = config.architecture == "Qwen2ForCausalLM";
  const bool qwen3 = config.architecture == "Qwen3ForCausalLM";
  config.intermediate_size = in.required_int("intermediate_size");
  config.num_kv_heads = in.int_or("num_key_value_heads", config.num_heads);
  // Qwen3Config's head_dim defaults to 128 whatever hidden_size / num_attention_heads is.
  config.head_dim = in.int_or("head_dim", qwen3 ? 128 : config.head_dim);
  config.norm_eps = in.number_or("rms_norm_eps", 1e-6);
  config.hidden_act = in.string_or("hidden_act", "silu");
  config.rope_theta = in.number_or("rope_theta", 10000.0);
  config.tie_word_embeddings = in.bool_or("tie_word_embeddings", false);
  if (config.architecture == "Phi3ForCausalLM") {
    read_phi3_differences(in, config);
    return;
  }
  read_rope_scaling(in, config);
  if (qwen2) {
    // Qwen2Attention: q/k/v always biased, o_proj never; no config key controls it.
    config.attention_bias = true;
  } else {
    config.attention_bias = in.bool_or("attention_bias", false);
    config.attention_out_bias = config.attention_bias;  // LlamaAttention: on o_proj too
    // Qwen3MLP has no bias and Qwen3Config no mlp_bias.
    config.mlp_bias = !qwen3 && in.bool_or("mlp_bias", false);
  }
  config.qk_norm = qwen3;
  if (qwen2 || qwen3) read_qwen_window(in, config);
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

// A soft-capping value of Gemma2Config/Gemma3TextConfig: absent -> the class default, null ->
// no capping (transformers passes the null through), else a positive number.
std::optional<double> softcap(const ConfigReader& in,
                              const char* key,
                              std::optional<double> fallback) {
  if (in.is_null(key)) return std::nullopt;
  if (!in.has(key)) return fallback;
  const double cap = in.number_or(key, 0);
  PTQ_CHECK_INPUT(cap > 0, in.source(), ": ", key, " must be positive, got ", cap);
  return cap;
}

// Gemma2Config / Gemma3TextConfig: which layers slide. layer_types when given; otherwise
// Gemma 2 alternates from a sliding layer 0, and Gemma 3 makes every sliding_window_pattern-th
// layer global (the config's default pattern is 6). The pattern is kept as a number, not
// expanded per layer, so a huge num_hidden_layers allocates nothing before the checkpoint
// refuses it.
void read_sliding_layers(const ConfigReader& in, ModelConfig& config) {
  const std::vector<std::string> types = in.strings("layer_types");
  if (!types.empty()) {
    read_layer_types(in, types, config);
    return;
  }
  const bool gemma3 = config.architecture == "Gemma3ForCausalLM";
  config.sliding_pattern =
      gemma3 ? in.int_or("sliding_window_pattern", in.int_or("_sliding_window_pattern", 6)) : 2;
  PTQ_CHECK_INPUT(config.sliding_pattern > 0, in.source(),
                  ": sliding_window_pattern must be positive, got ", config.sliding_pattern);
}

// Gemma2Config / Gemma3TextConfig with those classes' defaults. Explicit head_dim (256 by
// default, not hidden_size / heads), the MLP's activation from hidden_activation (what
// Gemma2MLP/Gemma3MLP read; hidden_act is ignored by them), tied embeddings by default.
void read_gemma(const ConfigReader& in, ModelConfig& config) {
  const bool gemma3 = config.architecture == "Gemma3ForCausalLM";
  config.intermediate_size = in.required_int("intermediate_size");
  config.num_kv_heads = in.int_or("num_key_value_heads", config.num_heads);
  config.head_dim = in.int_or("head_dim", 256);
  config.norm_eps = in.number_or("rms_norm_eps", 1e-6);
  config.hidden_act = in.string_or("hidden_activation", "gelu_pytorch_tanh");
  config.tie_word_embeddings = in.bool_or("tie_word_embeddings", true);
  config.attention_bias = config.attention_out_bias = in.bool_or("attention_bias", false);
  config.query_pre_attn_scalar = in.number_or("query_pre_attn_scalar", 256);
  PTQ_CHECK_INPUT(config.query_pre_attn_scalar > 0, in.source(),
                  ": query_pre_attn_scalar must be positive");
  // Every layer type's window is config.sliding_window; null would disable the masks' window.
  if (!in.is_null("sliding_window")) config.sliding_window = in.int_or("sliding_window", 4096);
  read_sliding_layers(in, config);
  if (gemma3) {
    read_rope_scaling(in, config);  // applies to the global layers only (gemma.cpp)
  } else {
    PTQ_CHECK_INPUT(!in.has("rope_scaling"), in.source(),
                    ": rope_scaling is not supported for Gemma2ForCausalLM (no released Gemma 2 "
                    "sets it; rope_scaling null is)");
  }
  PTQ_CHECK_INPUT(!in.has("rope_parameters"), in.source(),
                  ": rope_parameters is not supported; give rope_theta",
                  gemma3 ? " and rope_local_base_freq" : "");
  if (gemma3) {
    config.rope_theta = in.number_or("rope_theta", 1000000.0);
    config.rope_local_theta = in.number_or("rope_local_base_freq", 10000.0);
    config.qk_norm = true;
    config.final_logit_softcapping = softcap(in, "final_logit_softcapping", std::nullopt);
    // Gemma3Attention does not hand attn_logit_softcapping to the attention function in every
    // transformers release; no Gemma 3 checkpoint sets it, so a set one is refused, not guessed.
    PTQ_CHECK_INPUT(!in.has("attn_logit_softcapping"), in.source(),
                    ": attn_logit_softcapping is not supported for Gemma 3 (expected null)");
    PTQ_CHECK_INPUT(!in.bool_or("use_bidirectional_attention", false), in.source(),
                    ": use_bidirectional_attention=true is not supported (causal LMs only)");
  } else {
    config.rope_theta = in.number_or("rope_theta", 10000.0);
    config.rope_local_theta = config.rope_theta;
    config.final_logit_softcapping = softcap(in, "final_logit_softcapping", 30.0);
    config.attn_logit_softcapping = softcap(in, "attn_logit_softcapping", 50.0);
  }
}

void check_shapes(const ModelConfig& c, const std::string& source) {
  PTQ_CHECK_INPUT(c.vocab_size > 0 && c.hidden_size > 0 && c.intermediate_size > 0 &&
                      c.num_layers > 0 && c.num_heads > 0 && c.num_kv_heads > 0 && c.head_dim > 0,
                  source, ": sizes must be positive");
  PTQ_CHECK_INPUT(c.num_heads % c.num_kv_heads == 0, source, ": num_attention_heads (", c.num_heads,
                  ") is not a multiple of num_key_value_heads (", c.num_kv_heads, ")");
  if (c.family == ArchFamily::Opt || c.family == ArchFamily::GptNeoX) {
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
    case ArchFamily::Gemma:
      read_gemma(in, config);
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

bool is_sliding_layer(const ModelConfig& config, int64_t index) {
  if (config.sliding_pattern > 0) return (index + 1) % config.sliding_pattern != 0;
  return index >= static_cast<int64_t>(config.window_layers.size()) || config.window_layers[index];
}

std::optional<int64_t> layer_window(const ModelConfig& config, int64_t layer) {
  return is_sliding_layer(config, layer) ? config.sliding_window : std::nullopt;
}

ModelConfig load_model_config(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path file = fs::is_directory(path) ? fs::path(path) / "config.json" : fs::path(path);
  return parse_model_config(io::read_json_file(file.string()), file.string());
}

}  // namespace ptq::model
