#pragma once
// The quantization settings of a GPTQ v1 ("gptq") Hugging Face directory, and reading its
// quantized linears back. Layout and keys per docs/format.md.
//
//   std::optional<QuantizationFormat> format = find_quantization_format("out/llama-4bit");
//   at::Tensor w = load_dequantized_weight(io::Checkpoint("out/llama-4bit"),
//                                          "model.layers.0.self_attn.q_proj", format->bits);

#include <ATen/core/Tensor.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ptq/format/dynamic_settings.h"
#include "ptq/format/gptq_packing.h"
#include "ptq/format/outlier_store.h"
#include "ptq/model/causal_lm.h"
#include "ptq/quant/activation_quantizer.h"

namespace ptq::io {
class Checkpoint;
}

namespace ptq::quant {

// Defaults are AutoGPTQ's BaseQuantizeConfig ones, which loaders assume for absent keys.
struct QuantizationFormat {
  int bits = 4;
  // qzeros convention; absent "checkpoint_format" means v1, as loaders take it.
  CheckpointFormat checkpoint_format = CheckpointFormat::GptqV1;
  int group_size = 128;  // -1: one group over all input features
  bool sym = true;
  bool desc_act = false;
  bool static_groups = false;
  bool true_sequential = true;
  double damp_percent = 0.01;
  std::string method = "gptq";  // how the codes were found: rtn|gptq|septq|...
  nlohmann::json method_fields = nlohmann::json::object();  // extra keys, e.g. keep_percent
  // Fake-quantization of the quantized linears' inputs at run time (meta.act_bits/act_clip).
  ActivationQuantizerConfig activations;
  // Fake-quantization of the attention operands (attention_quantizer.h) of every layer whose
  // q/k/v linears are stored quantized (meta.attn_bits/attn_clip; absent: none).
  ActivationQuantizerConfig attention;
  // GPTQModel's per-module overrides of bits and group size ("dynamic", dynamic_settings.h).
  std::vector<DynamicRule> dynamic;

  LinearSetting top_setting() const { return {bits, group_size}; }
};

// Bit widths GPTQ loaders read (2, 3, 4, 8). ptq also writes 5, 6 and 7 in the same LSB-first
// stream, which GPTQModel would take for its planar "gptq_p" layout: those are labelled
// "quant_method": "ptq" so that no loader reads them as GPTQ (docs/format.md).
bool gptq_loader_bits(int bits);
// Whether every linear of `format` (the top level and each "dynamic" override) has such bits.
bool gptq_loader_bits(const QuantizationFormat& format);

// The bits and group size of quantized linear `module` (format.dynamic applied); nothing when a
// "-:" rule leaves it unquantized. Throws InputError as linear_setting does.
std::optional<LinearSetting> module_setting(const QuantizationFormat& format,
                                            const std::string& module);

// The minimal set loaders need (docs/format.md), written both as config.json
// ["quantization_config"] and as quantize_config.json; `method` and `method_fields` go to
// "meta" next to "quantizer": ["ptq:<version>"]. "quant_method" is "gptq", or "ptq" for bits
// outside gptq_loader_bits; "checkpoint_format" names format.checkpoint_format; "dynamic" is
// written when format.dynamic has rules.
nlohmann::json quantization_config_json(const QuantizationFormat& format);

// Parses a quantization_config object read from `source` (named in errors). Accepts the
// synonyms loaders accept (w_bit/wbits -> bits, q_group_size -> group_size, method ->
// quant_method, format -> checkpoint_format) and GPTQModel's settings under "meta". Throws
// InputError naming `source` and the key for what ptq cannot read: a quant_method other than
// "gptq" or "ptq", a checkpoint_format other than "gptq" or "gptq_v2" (e.g. GPTQModel's planar
// "gptq_p"), a pack_dtype other than "int32", bits outside 2..8, "dynamic" rules parse_dynamic
// refuses.
QuantizationFormat parse_quantization_config(const nlohmann::json& config,
                                             const std::string& source);

// The quantization settings of model directory `dir`, looked up where loaders look for them:
// config.json["quantization_config"], else quantize_config.json, else quant_config.json.
// Nothing when the directory holds none of them (an unquantized model).
std::optional<QuantizationFormat> find_quantization_format(const std::string& dir);

// The GPTQ tensors of the quantized linear `module` (views of the mapped files), each checked
// to be int32 (qweight, qzeros, g_idx) or floating (scales); InputError naming the tensor and
// its file otherwise, or when one is missing.
GptqPackedWeight load_packed_weight(const io::Checkpoint& checkpoint, const std::string& module);

// The side store of `module` (.outlier_idx and .outlier_val, outlier_store.h) if the checkpoint
// holds one, unchecked (check_outlier_store); InputError naming the module and the checkpoint
// when it holds only one of the two.
std::optional<OutlierStore> load_outlier_store(const io::Checkpoint& checkpoint,
                                               const std::string& module);

// fp32 [N, K] weight of the quantized linear `module` (its .qweight, .qzeros, .scales and
// .g_idx), exactly as readers of `format` dequantize it, with its sparse side store (.outlier_idx
// and .outlier_val, outlier_store.h) written over it when the checkpoint holds one. Throws
// InputError naming the module and the checkpoint for a missing or ill-typed tensor, or shapes
// that do not fit together.
at::Tensor load_dequantized_weight(const io::Checkpoint& checkpoint,
                                   const std::string& module,
                                   int bits,
                                   CheckpointFormat format = CheckpointFormat::GptqV1);

// The model of Hugging Face directory `dir`, quantized or not: for a directory with a
// quantization config (find_quantization_format) its quantized linears are read dequantized
// through a model::WeightSource (ptq/model/weight_source.h) set in options.source, and its
// linears get their stored input transforms and activation and attention quantizers
// (install_linear_inputs, ptq/format/linear_inputs.h). Everything that may read a quantized
// directory (eval, generate, compare, zeroshot, quantize) loads through it; otherwise it is
// model::load_causal_lm, whose errors it throws, and InputError naming the tensor and the
// directory for a quantized linear whose tensors do not fit together or the config's shape.
std::unique_ptr<model::CausalLM> load_model(const std::string& dir,
                                            model::LoadOptions options = {});

}  // namespace ptq::quant
