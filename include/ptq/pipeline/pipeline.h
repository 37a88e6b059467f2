#pragma once
// Layer-by-layer post-training quantization of a causal LM, as the GPTQ reference's
// llama_sequential / opt_sequential do (docs/eval-protocol.md):
//
//   hidden = embed(calibration ids)
//   for each decoder layer: collect what the method needs from each linear's inputs,
//     quantize the linears, put the dequantized weights into the model, and recompute the
//     layer's outputs with them (the next layer's inputs).
//
//   PipelineResult r = quantize_model(*lm, ids, *create_method("gptq", options), {}, sink);
//
// Memory holds the current layer's weights (with lazily loaded models) and two activation
// buffers of nsamples x seqlen x hidden, in fp16 when fp32 would exceed the budget.

#include <ATen/core/Tensor.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ptq/methods/method.h"
#include "ptq/model/causal_lm.h"
#include "ptq/quant/activation_quantizer.h"

namespace ptq::quant {

struct LayerRecord;

struct PipelineOptions {
  // Groups of linears quantized in turn, each with Hessians from a forward pass through the
  // already quantized earlier groups (llama.py --true-sequential): q/k/v, o, gate/up, down.
  // Off: every linear's Hessian comes from one pass through the unquantized layer (opt.py).
  bool true_sequential = true;
  int64_t batch_size = 0;               // samples per forward pass; 0: automatic
  int64_t activation_budget_mb = 4096;  // both activation buffers; above it they are fp16
  // Free each layer after quantizing it (bounded memory with a lazily loaded model); off
  // keeps the quantized model in memory, e.g. to evaluate it afterwards.
  bool unload_layers = false;
  // Checked between linears: once it reads true, quantize_model throws Interrupted (a SIGINT
  // handler sets it; std::atomic<bool> is lock-free, so that is async-signal-safe).
  const std::atomic<bool>* stop = nullptr;
  // Each linear's input is fake-quantized from the moment the linear is quantized (WxAy).
  ActivationQuantizerConfig activations;
  // Resuming (resume_checkpoint.h): layers before `first_layer` are done and not revisited;
  // `first_inputs` holds the calibration activations entering `first_layer`, as layer_done
  // gave them (undefined for a method without calibration).
  int64_t first_layer = 0;
  at::Tensor first_inputs;
  // Called after each finished layer, before progress reports it, with the layer's record and
  // the calibration activations entering the next layer (undefined without calibration).
  std::function<void(const LayerRecord& layer, const at::Tensor& next_inputs)> layer_done;
  // A layer's attention operands (Q and K after a block Hadamard, V: attention_quantizer.h)
  // are fake-quantized from the moment its q/k/v linears are quantized; 16 bits: never.
  ActivationQuantizerConfig attention;
  // LinearRecord::relative_error of each linear with a Hessian (relative_error.h): two
  // quadratic traces of about N K^2 FLOPs each, twice GPTQ's own column loop (N K^2).
  // Off: recorded as 0, the quantized weights unchanged.
  bool relative_error = true;
  // The pass's name in progress lines ("quantize 2/32"; the --target-bits measurement: "measure").
  std::string progress_label = "quantize";
};

struct LinearRecord {
  std::string name;  // HF module name
  int64_t out_features = 0;
  int64_t in_features = 0;
  double loss = 0;
  // ||WX - QX||^2 / ||WX||^2 over the calibration inputs, from H:
  // tr((W - Q) H (W - Q)^T) / tr(W H W^T); 0 when no Hessian was collected or
  // PipelineOptions::relative_error is off.
  double relative_error = 0;
  double percdamp = 0;
  double damp = 0;
  double seconds = 0;
  bool rtn_fallback = false;  // the method failed on this linear and RTN was used instead
};

struct LayerRecord {
  int64_t index = 0;
  double seconds = 0;
  std::vector<LinearRecord> linears;
  nlohmann::json refinement;  // RefinedLayer::summary (null: the layer was not refined)
};

struct PipelineResult {
  std::vector<LayerRecord> layers;
  double seconds = 0;
  bool fp16_activations = false;
};

// Called once per quantized linear, while its layer is loaded (so its bias can be read).
using QuantizedLinearSink =
    std::function<void(const std::string& module, const QuantizedLinear& linear)>;

class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("quantization interrupted") {}
};

// The linear groups of decoder layer `layer` in quantization order: with true_sequential,
// one per stage of the family's table (LayerLinear::stage), else the whole layer.
std::vector<std::vector<std::string>> linear_groups(const model::CausalLM& lm,
                                                    int64_t layer,
                                                    bool true_sequential);

// What quantize_model holds for nsamples windows of seqlen tokens beside the model: the int64
// ids and the two activation buffers (fp16 past options.activation_budget_mb). In double: a
// command line may claim counts whose product overflows int64.
struct CalibrationMemory {
  double ids_bytes = 0;
  double activation_bytes = 0;  // both buffers
  bool fp16 = false;
  double total() const { return ids_bytes + activation_bytes; }
};
CalibrationMemory calibration_memory(int64_t hidden,
                                     int64_t nsamples,
                                     int64_t seqlen,
                                     const PipelineOptions& options);

// ids: int64 [nsamples, seqlen], unused (no forward pass) when !method.needs_calibration().
// `fallback` quantizes a linear on which `method` throws std::runtime_error (logged and recorded).
// The result holds the layers from options.first_layer on. Throws Interrupted.
PipelineResult quantize_model(model::CausalLM& lm,
                              const at::Tensor& ids,
                              QuantMethod& method,
                              QuantMethod& fallback,
                              const PipelineOptions& options,
                              const QuantizedLinearSink& sink);

}  // namespace ptq::quant
