#pragma once
// A quantization method: what it needs from calibration, how it quantizes one linear layer,
// and what it adds to the checkpoint's quantization_config. Methods live in src/methods/<name>/
// and register in builtin_methods() (src/methods/method_registry.cpp); a method outside the
// library registers with register_method (docs/methods.md):
//
//   MethodOptions options;
//   options.quantizer.bits = 4;
//   std::unique_ptr<QuantMethod> gptq = create_method("gptq", options);
//   QuantizedLinear q = gptq->quantize_linear("model.layers.0.mlp.up_proj", w, stats);

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ptq/common/error.h"
#include "ptq/methods/method_option.h"
#include "ptq/model/causal_lm.h"
#include "ptq/quant/activation_quantizer.h"
#include "ptq/quant/uniform_quantizer.h"

namespace ptq::quant {

class SharedPreparation;

// What calibration collected for one linear: H = 2/n sum X^T X over n samples (gptq.py).
struct LinearStats {
  at::Tensor hessian;  // fp32 [K, K]; undefined when the method does not need it
  int64_t samples = 0;
  // One per Hessian, handed to every linear that shares it (q/k/v, gate/up): what a method
  // derives from H alone (GPTQ's damped factorisation) is computed once (gptq.h). May be null.
  std::shared_ptr<SharedPreparation> shared;
  // The caller reads neither `hessian` nor its storage after this one quantize_linear (no
  // relative-error diagnostic, no other linear shares it): the method may overwrite it in place
  // (GPTQ factorises it there, one K x K buffer less: 485 MB at K = 11008). A wrapper that hands
  // the same stats to several methods, or reads H afterwards, must clear it.
  bool hessian_consumable = false;
};

struct QuantizedLinear {
  QuantizedWeight quantized;
  double loss = 0;      // the method's own objective (gptq.py's error for GPTQ; 0 for RTN)
  double percdamp = 0;  // relative damping used (after retries); 0 without a Hessian
  double damp = 0;      // absolute damping added to diag(H)
  std::map<std::string, at::Tensor> extra_tensors;  // by suffix, stored as <module>.<suffix>
};

// The settings shared by the built-in methods; defaults are the GPTQ reference's
// (docs/eval-protocol.md: asym, per-channel, min-max, percdamp .01, blocksize 128).
struct MethodOptions {
  QuantizerConfig quantizer;
  int group_size = -1;
  double percdamp = 0.01;
  int block_size = 128;
  bool act_order = false;
  bool static_groups = false;
  // SEPTQ: percent of each linear's weights kept in full precision (0..50).
  double keep_percent = 1.0;
  // Input rotations (RUQuant): the largest rotation block (block_size above), Householder
  // steps per rotation, random permutations + Givens passes per step, SmoothQuant's migration
  // strength, smoothing without rotations, the weights' method (rtn|gptq) and the seed.
  struct Rotation {
    int steps = 16;
    int perm_rounds = 3;
    double alpha = 0.6;
    bool smooth_only = false;
    std::string weight_method = "rtn";
    uint64_t seed = 0;
    // Stage 2: passes over the calibration samples fitting each layer's global reflections
    // (0: stage 1 only, training-free) and AdamW's learning rate.
    int tune_epochs = 0;
    double tune_lr = 1e-2;
  } rotation;
  // Numeric settings of methods registered outside the library, by their options' keys.
  std::map<std::string, double> extra;
};

// What the pipeline lends QuantMethod::prepare_group: the model with layer `layer` loaded, the
// linears about to be quantized, the layer's calibration inputs and a way to run the layer.
struct GroupCalibration {
  model::CausalLM& lm;
  int64_t layer;
  const std::vector<std::string>& group;
  const at::Tensor& inputs;  // [nsamples, seqlen, hidden] (fp32, or fp16 over the budget)
  // Runs layer `layer` on hidden [n, seqlen, hidden] in batches, showing every linear's input
  // to `observer`; earlier groups run quantized.
  std::function<void(const at::Tensor& hidden, const model::LinearInputObserver& observer)> run;
};

// What the pipeline lends QuantMethod::refine_layer once every linear of layer `layer` is
// quantized (and installed in the model with its activation quantizer).
struct LayerRefinement {
  model::CausalLM& lm;
  int64_t layer;
  const at::Tensor& inputs;  // [nsamples, seqlen, hidden], the layer's calibration inputs
  // The full-precision layer's outputs on the full-precision model's own inputs to it (not on
  // `inputs`: the targets carry no error of the quantized layers before), same shape.
  const at::Tensor& targets;
  const ActivationQuantizerConfig& activations;  // what the layer's linear inputs use
  const ActivationQuantizerConfig& attention;    // what its attention operands use
};

// What QuantMethod::refine_layer returns: the linears to replace, by name, and the method's
// account of the refinement for the report (layers[i].refinement; null: nothing to say).
struct RefinedLayer {
  std::map<std::string, QuantizedLinear> linears;
  nlohmann::json summary;
};

class QuantMethod {
 public:
  virtual ~QuantMethod() = default;

  virtual std::string name() const = 0;
  // Whether quantize_linear reads stats.hessian (the pipeline skips collecting it if not).
  virtual bool needs_hessian() const = 0;
  // weight: fp32 [N, K] of linear `module`. Throws std::runtime_error when the method cannot
  // quantize this linear (e.g. a Hessian that stays indefinite); the pipeline then falls
  // back to RTN.
  virtual QuantizedLinear quantize_linear(const std::string& module,
                                          const at::Tensor& weight,
                                          const LinearStats& stats) = 0;
  // Whether quantize_model runs calibration data through the layers (Hessians or
  // prepare_group need it).
  virtual bool needs_calibration() const { return needs_hessian(); }
  // Called before the linears of calibration.group are quantized (and their Hessians
  // collected). May replace their weights and input transforms by an equivalent network (the
  // full-precision output unchanged); quantize_linear then sees the new weights.
  virtual void prepare_group(const GroupCalibration& /*calibration*/) {}
  // Whether the pipeline calls refine_layer (and computes its targets) after each layer.
  virtual bool refines_layers() const { return false; }
  // Called after the last group of a layer, before its linears reach the sink. Returns the
  // linears to replace by name; the pipeline puts their weights into the model. The method
  // leaves the model's weights and input treatments plain (no autograd history).
  virtual RefinedLayer refine_layer(const LayerRefinement& /*refinement*/) { return {}; }
  // Keys the method adds to quantization_config's "meta" (e.g. SEPTQ's keep fraction).
  virtual nlohmann::json config_fields() const { return nlohmann::json::object(); }
  // State carried from one layer to the next (e.g. a random stream drawn from in layer
  // order), by name. A resumable run saves it after each finished layer and restores it before
  // resuming, so the resumed run continues exactly where the interrupted one stopped.
  // Stateless methods keep the defaults.
  virtual std::map<std::string, at::Tensor> layer_state() const { return {}; }
  // Throws InputError if `state` is not what layer_state() of this method returns.
  virtual void restore_layer_state(const std::map<std::string, at::Tensor>& state) {
    PTQ_CHECK_INPUT(state.empty(), name(), " keeps no state between layers, but ", state.size(),
                    " saved entries were given");
  }
};

using MethodFactory = std::function<std::unique_ptr<QuantMethod>(const MethodOptions&)>;

// A method of the registry: the name --method takes, one line saying what it does (for
// --help), its factory (which throws InputError for settings it cannot use), the settings only
// it reads, and what it sets whatever the command line says (SEPTQ: MSE grids), applied by
// implied_options before the run's settings are recorded.
struct MethodEntry {
  std::string name;
  std::string description;
  MethodFactory create;
  std::vector<MethodOption> options = {};
  std::function<void(MethodOptions&)> implies = nullptr;
};

// Adds a method; throws InputError if the name is taken.
void register_method(MethodEntry entry);
// Removes a method register_method added (the built-in ones stay).
void unregister_method(const std::string& name);
// Every registered method, sorted by name.
std::vector<MethodEntry> method_entries();

// Throws InputError listing method_names() for an unknown name.
std::unique_ptr<QuantMethod> create_method(const std::string& name, const MethodOptions& options);
// `options` with what method `name` implies applied; throws InputError for an unknown name.
MethodOptions implied_options(const std::string& name, MethodOptions options);
// Every registered method's own settings, by key: the values `options` holds (a method's
// defaults unless it is the one run).
nlohmann::json method_settings(const MethodOptions& options);
// Registered names, sorted.
std::vector<std::string> method_names();
// One "name: description" line per registered method, sorted by name.
std::string method_help();

}  // namespace ptq::quant
