#include "ptq/format/quantized_checkpoint.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <initializer_list>
#include <memory>
#include <utility>

#include "io/read_file.h"
#include "ptq/common/error.h"
#include "ptq/format/gptq_packing.h"
#include "ptq/format/linear_inputs.h"
#include "ptq/format/outlier_store.h"
#include "ptq/io/checkpoint.h"
#include "ptq/model/causal_lm.h"
#include "ptq/model/weight_source.h"

namespace ptq::quant {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The first of `keys` (synonyms) that `object` holds with a non-null value, and that key.
std::pair<std::string, const json*> find_key(const json& object,
                                             std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    const auto it = object.find(key);
    if (it != object.end() && !it->is_null()) return {key, &*it};
  }
  return {"", nullptr};
}

// `where` prefixes the key in errors: "FILE: " or "FILE: meta.".
template <typename T>
T read_key(const json& object,
           std::initializer_list<const char*> keys,
           T fallback,
           const std::string& where) {
  const auto [key, value] = find_key(object, keys);
  if (!value) return fallback;
  try {
    return value->get<T>();
  } catch (const json::type_error&) {
    PTQ_THROW_INPUT(where, "\"", key, "\" has the invalid value ", value->dump());
  }
}

// An absent key means `expected` (docs/format.md: no quant_method or checkpoint_format is
// what older AutoGPTQ writers emit, and loaders take it as v1 "gptq").
void require_value(const json& config,
                   std::initializer_list<const char*> keys,
                   const char* expected,
                   const std::string& source,
                   const char* why) {
  const auto [key, value] = find_key(config, keys);
  PTQ_CHECK_INPUT(!value || *value == expected, source, ": \"", key, "\" is ", value->dump(),
                  "; ptq reads only \"", expected, "\" (", why, ")");
}

int read_bits(const json& config, const std::string& source) {
  const auto [key, value] = find_key(config, {"bits", "w_bit", "wbits"});
  PTQ_CHECK_INPUT(value, source, ": quantization config has no \"bits\"");
  const bool valid = value->is_number_integer() && *value >= 2 && *value <= 8;
  PTQ_CHECK_INPUT(valid, source, ": \"", key, "\" is ", value->dump(),
                  "; GPTQ v1 checkpoints hold 2 to 8 bits");
  return value->get<int>();
}

std::optional<QuantizationFormat> read_config_file(const fs::path& path) {
  const std::string source = path.string();
  const json config = io::read_json_file(source);
  if (path.filename() != "config.json") return parse_quantization_config(config, source);
  if (!config.is_object() || !config.contains("quantization_config")) return std::nullopt;
  return parse_quantization_config(config["quantization_config"],
                                   source + " [quantization_config]");
}

// A stored tensor of a quantized linear, checked to be integer (packed words, g_idx) or
// floating (scales) before dequantize_gptq reads it.
at::Tensor quantized_part(const io::Checkpoint& checkpoint, const std::string& name, bool packed) {
  at::Tensor tensor = checkpoint.tensor(name);
  const bool valid =
      packed ? tensor.scalar_type() == at::kInt : at::isFloatingType(tensor.scalar_type());
  PTQ_CHECK_INPUT(valid, "tensor '", name, "' in ", checkpoint.file_of(name), " has dtype ",
                  tensor.scalar_type(), "; GPTQ stores ", packed ? "int32" : "floating",
                  " values there");
  return tensor;
}

constexpr const char kWeightSuffix[] = ".weight";

// The module of "<module>.weight", or nothing for another name.
std::optional<std::string> weight_module(const std::string& weight_name) {
  const std::size_t length = sizeof(kWeightSuffix) - 1;
  if (weight_name.size() <= length ||
      weight_name.compare(weight_name.size() - length, length, kWeightSuffix) != 0) {
    return std::nullopt;
  }
  return weight_name.substr(0, weight_name.size() - length);
}

// The module of `weight_name` if it is a quantized linear: "<module>.weight" is not stored but
// "<module>.qweight" is (docs/format.md).
std::optional<std::string> quantized_module(const io::Checkpoint& checkpoint,
                                            const std::string& weight_name) {
  std::optional<std::string> module = weight_module(weight_name);
  if (!module || checkpoint.contains(weight_name) || !checkpoint.contains(*module + ".qweight")) {
    return std::nullopt;
  }
  return module;
}

// Serves the quantized linears of a GPTQ directory of `format`, dequantized.
class DequantizingSource : public model::WeightSource {
 public:
  explicit DequantizingSource(QuantizationFormat format) : _format(std::move(format)) {}

  bool provides(const io::Checkpoint& checkpoint,
                const std::string& name,
                const std::vector<int64_t>& shape) const override {
    const std::optional<std::string> module = quantized_module(checkpoint, name);
    if (!module) return false;
    // Views of the mapped files: the shapes cost no reads.
    const at::Tensor scales = quantized_part(checkpoint, *module + ".scales", false);
    const at::Tensor g_idx = quantized_part(checkpoint, *module + ".g_idx", true);
    quantized_part(checkpoint, *module + ".qweight", true);
    quantized_part(checkpoint, *module + ".qzeros", true);
    const std::vector<int64_t> stored = {scales.dim() == 2 ? scales.size(1) : -1, g_idx.numel()};
    PTQ_CHECK_INPUT(stored == shape, "quantized linear '", *module, "' in ", checkpoint.dir(),
                    " has scales ", scales.sizes(), " and g_idx ", g_idx.sizes(),
                    ", which do not give the weight shape ", at::IntArrayRef(shape),
                    " config.json implies");
    return true;
  }

  std::optional<at::Tensor> load(const io::Checkpoint& checkpoint,
                                 const std::string& name) const override {
    const std::optional<std::string> module = quantized_module(checkpoint, name);
    if (!module) return std::nullopt;
    const std::optional<LinearSetting> setting = module_setting(_format, *module);
    PTQ_CHECK_INPUT(setting, "'", *module, ".qweight' in ",
                    checkpoint.file_of(*module + ".qweight"),
                    " is a quantized linear, but a \"-:\" rule of the quantization config's "
                    "\"dynamic\" leaves '",
                    *module, "' unquantized");
    return load_dequantized_weight(checkpoint, *module, setting->bits, _format.checkpoint_format);
  }

 private:
  QuantizationFormat _format;
};

}  // namespace

bool gptq_loader_bits(int bits) { return bits == 2 || bits == 3 || bits == 4 || bits == 8; }

bool gptq_loader_bits(const QuantizationFormat& format) {
  for (const DynamicRule& rule : format.dynamic) {
    if (!rule.exclude && !gptq_loader_bits(rule.overrides.value("bits", format.bits))) {
      return false;
    }
  }
  return gptq_loader_bits(format.bits);
}

std::optional<LinearSetting> module_setting(const QuantizationFormat& format,
                                            const std::string& module) {
  return linear_setting(format.dynamic, format.top_setting(), module);
}

json quantization_config_json(const QuantizationFormat& format) {
  json meta = format.method_fields.is_null() ? json::object() : format.method_fields;
  PTQ_CHECK_INPUT(meta.is_object(), "method_fields must be a JSON object, got ", meta.dump());
  meta["quantizer"] = json::array({std::string("ptq:") + PTQ_VERSION});
  meta["method"] = format.method;
  if (format.activations.enabled()) {
    meta["act_bits"] = format.activations.bits;
    meta["act_clip"] = format.activations.clip;
    meta["act_granularity"] = "per_token_dynamic_asym";
  }
  if (format.attention.enabled()) {
    meta["attn_bits"] = format.attention.bits;
    meta["attn_clip"] = format.attention.clip;
    meta["attn_granularity"] = "per_head_token_dynamic_asym";
    meta["attn_qk_transform"] = "block_hadamard";
  }
  json config = {
      {"quant_method", gptq_loader_bits(format) ? "gptq" : "ptq"},
      {"checkpoint_format", checkpoint_format_name(format.checkpoint_format)},
      {"bits", format.bits},
      {"group_size", format.group_size},
      {"desc_act", format.desc_act},
      {"sym", format.sym},
      {"static_groups", format.static_groups},
      {"true_sequential", format.true_sequential},
      {"damp_percent", format.damp_percent},
      {"lm_head", false},
      {"pack_dtype", "int32"},
      {"model_file_base_name", "model"},
      {"meta", meta},
  };
  if (!format.dynamic.empty()) config["dynamic"] = dynamic_json(format.dynamic);
  return config;
}

QuantizationFormat parse_quantization_config(const json& config, const std::string& source) {
  PTQ_CHECK_INPUT(config.is_object(), source, ": quantization config is not a JSON object");
  const auto [method_key, method_value] = find_key(config, {"quant_method", "method"});
  PTQ_CHECK_INPUT(!method_value || *method_value == "gptq" || *method_value == "ptq", source,
                  ": \"", method_key, "\" is ", method_value ? method_value->dump() : "",
                  "; ptq reads only \"gptq\" and its own \"ptq\" (GPTQ tensors at 2 to 8 bits)");
  const std::string top = source + ": ";
  const std::string in_meta = source + ": meta.";
  QuantizationFormat format;
  format.checkpoint_format = parse_checkpoint_format(
      read_key(config, {"checkpoint_format", "format"}, std::string("gptq"), top),
      source + ": \"checkpoint_format\"");
  require_value(config, {"pack_dtype"}, "int32", source, "words packed into int32");
  const json* meta_value = find_key(config, {"meta"}).second;
  const json meta = meta_value ? *meta_value : json::object();
  PTQ_CHECK_INPUT(meta.is_object(), source, ": \"meta\" is not a JSON object");
  format.bits = read_bits(config, source);
  format.group_size = read_key(config, {"group_size", "q_group_size"}, format.group_size, top);
  PTQ_CHECK_INPUT(format.group_size == -1 || format.group_size > 0, source,
                  ": \"group_size\" must be -1 or positive, got ", format.group_size);
  format.dynamic = parse_dynamic(
      find_key(config, {"dynamic"}).second ? config["dynamic"] : json(nullptr), source);
  format.sym = read_key(config, {"sym"}, format.sym, top);
  format.desc_act = read_key(config, {"desc_act"}, format.desc_act, top);
  // GPTQModel keeps these under "meta" (docs/format.md); AutoGPTQ at the top level.
  format.static_groups =
      read_key(config, {"static_groups"},
               read_key(meta, {"static_groups"}, format.static_groups, in_meta), top);
  format.true_sequential =
      read_key(config, {"true_sequential"},
               read_key(meta, {"true_sequential"}, format.true_sequential, in_meta), top);
  format.damp_percent =
      read_key(config, {"damp_percent"},
               read_key(meta, {"damp_percent"}, format.damp_percent, in_meta), top);
  format.method = read_key(meta, {"method"}, format.method, in_meta);
  format.activations.bits = read_key(meta, {"act_bits"}, format.activations.bits, in_meta);
  format.activations.clip = read_key(meta, {"act_clip"}, format.activations.clip, in_meta);
  try {
    check_activation_quantizer(format.activations);
  } catch (const InputError& e) {
    PTQ_THROW_INPUT(source, ": meta.act_bits/act_clip: ", e.what());
  }
  format.attention.bits = read_key(meta, {"attn_bits"}, format.attention.bits, in_meta);
  format.attention.clip = read_key(meta, {"attn_clip"}, format.attention.clip, in_meta);
  try {
    check_activation_quantizer(format.attention);
  } catch (const InputError& e) {
    PTQ_THROW_INPUT(source, ": meta.attn_bits/attn_clip: ", e.what());
  }
  const std::string qk_transform =
      read_key(meta, {"attn_qk_transform"}, std::string("block_hadamard"), in_meta);
  PTQ_CHECK_INPUT(qk_transform == "block_hadamard", source, ": meta.attn_qk_transform is \"",
                  qk_transform, "\"; ptq reads only \"block_hadamard\"");
  format.method_fields = meta;
  for (const char* key : {"quantizer", "method", "act_bits", "act_clip", "act_granularity",
                          "attn_bits", "attn_clip", "attn_granularity", "attn_qk_transform"}) {
    format.method_fields.erase(key);
  }
  return format;
}

std::optional<QuantizationFormat> find_quantization_format(const std::string& dir) {
  // The order loaders search (docs/format.md): the model's config first.
  for (const char* name : {"config.json", "quantize_config.json", "quant_config.json"}) {
    const fs::path path = fs::path(dir) / name;
    if (!fs::exists(path)) continue;
    if (auto format = read_config_file(path)) return format;
  }
  return std::nullopt;
}

GptqPackedWeight load_packed_weight(const io::Checkpoint& checkpoint, const std::string& module) {
  GptqPackedWeight packed;
  packed.qweight = quantized_part(checkpoint, module + ".qweight", true);
  packed.qzeros = quantized_part(checkpoint, module + ".qzeros", true);
  packed.scales = quantized_part(checkpoint, module + ".scales", false);
  packed.g_idx = quantized_part(checkpoint, module + ".g_idx", true);
  return packed;
}

std::optional<OutlierStore> load_outlier_store(const io::Checkpoint& checkpoint,
                                               const std::string& module) {
  const std::string index_name = module + "." + kOutlierIndexSuffix;
  const std::string value_name = module + "." + kOutlierValueSuffix;
  const bool has_index = checkpoint.contains(index_name);
  const bool has_values = checkpoint.contains(value_name);
  if (!has_index && !has_values) return std::nullopt;
  PTQ_CHECK_INPUT(has_index && has_values, "quantized linear '", module, "' in ", checkpoint.dir(),
                  " has '", has_index ? index_name : value_name, "' without '",
                  has_index ? value_name : index_name, "'");
  return OutlierStore{checkpoint.tensor(index_name), checkpoint.tensor(value_name)};
}

at::Tensor load_dequantized_weight(const io::Checkpoint& checkpoint,
                                   const std::string& module,
                                   int bits,
                                   CheckpointFormat format) {
  const GptqPackedWeight packed = load_packed_weight(checkpoint, module);
  at::Tensor weight;
  try {
    weight = dequantize_gptq(packed, bits, format);
  } catch (const InputError& e) {
    PTQ_THROW_INPUT("quantized linear '", module, "' in ", checkpoint.dir(), ": ", e.what());
  }
  if (const std::optional<OutlierStore> store = load_outlier_store(checkpoint, module)) {
    check_outlier_store(*store, weight.size(0), weight.size(1),
                        "quantized linear '" + module + "' in " + checkpoint.dir());
    apply_outlier_store(weight, *store);
  }
  return weight;
}

std::unique_ptr<model::CausalLM> load_model(const std::string& dir, model::LoadOptions options) {
  // config.json's errors first, as plain loading reports them (a few kB read twice).
  model::load_model_config(dir);
  const std::optional<QuantizationFormat> format = find_quantization_format(dir);
  if (!format) return model::load_causal_lm(dir, options);
  options.source = std::make_shared<const DequantizingSource>(*format);
  auto checkpoint = std::make_shared<const io::Checkpoint>(dir);
  std::unique_ptr<model::CausalLM> lm = model::load_causal_lm(checkpoint, options);
  install_linear_inputs(*lm, *checkpoint);
  return lm;
}

}  // namespace ptq::quant
