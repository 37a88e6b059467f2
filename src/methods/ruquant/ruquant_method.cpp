#include "methods/ruquant/ruquant_method.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <vector>

#include "methods/ruquant/block_size.h"
#include "methods/ruquant/reflection_tuning.h"
#include "methods/ruquant/rotation_transform.h"
#include "methods/ruquant/smoothing.h"
#include "ptq/common/error.h"
#include "ptq/common/logging.h"
#include "ptq/quant/input_transform.h"
#include "ptq/quant/uniform_quantizer.h"

namespace ptq::methods {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kGeneratorState = "generator";

// What the group's calibration passes saw at each linear's input.
struct InputStats {
  std::map<std::string, at::Tensor> channel_max;  // [K], max |x| over all calibration tokens
  std::map<std::string, at::Tensor> mean_input;   // [T, K], the input of the mean layer input
};

InputStats observe_inputs(const quant::GroupCalibration& calibration) {
  InputStats stats;
  const auto in_group = [&](const std::string& name) {
    return std::find(calibration.group.begin(), calibration.group.end(), name) !=
           calibration.group.end();
  };
  calibration.run(calibration.inputs, [&](const std::string& name, const at::Tensor& x) {
    if (!in_group(name)) return;
    const at::Tensor batch_max = x.abs().amax({0, 1});
    at::Tensor& max = stats.channel_max[name];
    max = max.defined() ? at::maximum(max, batch_max) : batch_max;
  });
  // The calibration activation of the paper and the authors' code (rotate_inps =
  // inps.mean(0)): the mean of the layer's inputs, run through the layer, whose earlier groups
  // are already quantized.
  const at::Tensor mean = calibration.inputs.mean({0}, /*keepdim=*/true, at::kFloat);
  calibration.run(mean, [&](const std::string& name, const at::Tensor& x) {
    if (in_group(name)) stats.mean_input[name] = x[0].clone();
  });
  return stats;
}

// The group's linears split by input, as the family's table says (LayerLinear::input): those
// fed the same tensor (q/k/v, gate/up) share one transform. A true-sequential group is one
// set; a whole layer (--no-true-sequential) is four.
std::vector<std::vector<std::string>> shared_input_sets(
    const quant::GroupCalibration& calibration) {
  const std::vector<std::string>& group = calibration.group;
  std::map<int, std::vector<std::string>> by_input;
  std::vector<int> order;  // inputs in the group's order
  for (const model::LayerLinear& linear : calibration.lm.layer_linears(calibration.layer)) {
    if (std::find(group.begin(), group.end(), linear.name) == group.end()) continue;
    if (by_input.count(linear.input) == 0) order.push_back(linear.input);
    by_input[linear.input].push_back(linear.name);
  }
  std::vector<std::vector<std::string>> sets;
  for (const int input : order) sets.push_back(std::move(by_input[input]));
  return sets;
}

// `options`, checked before the weight method is created from them.
const quant::MethodOptions& validated(const quant::MethodOptions& options) {
  const auto& r = options.rotation;
  PTQ_CHECK_INPUT(r.weight_method == "rtn" || r.weight_method == "gptq",
                  "--weight-method must be rtn or gptq, got '", r.weight_method, "'");
  PTQ_CHECK_INPUT(r.alpha >= 0 && r.alpha <= 1, "--alpha must be in [0, 1], got ", r.alpha);
  PTQ_CHECK_INPUT(r.steps >= 1 && r.perm_rounds >= 0, "--rotation-steps must be >= 1 and ",
                  "--perm-rounds >= 0, got ", r.steps, " and ", r.perm_rounds);
  PTQ_CHECK_INPUT(options.block_size >= 2, "ruquant: --block-size must be >= 2 (Givens ",
                  "rotations pair channels), got ", options.block_size);
  PTQ_CHECK_INPUT(r.tune_epochs >= 0 && r.tune_lr > 0, "--tune-epochs must be >= 0 and ",
                  "--tune-lr > 0, got ", r.tune_epochs, " and ", r.tune_lr);
  if (r.tune_epochs > 0) {
    PTQ_CHECK_INPUT(!r.smooth_only, "--tune-epochs ", r.tune_epochs, " tunes the global ",
                    "reflection, which --smooth-only does not have");
    // Stage 2 trains through RTN's rounding; GPTQ would need Hessians of the tuned inputs.
    PTQ_CHECK_INPUT(r.weight_method == "rtn", "--tune-epochs ", r.tune_epochs,
                    " needs --weight-method rtn (stage 2 re-quantizes the weights by rounding), "
                    "got '",
                    r.weight_method, "'");
    // Its training rounds each weight row on one min-max grid.
    PTQ_CHECK_INPUT(options.group_size == -1, "--tune-epochs ", r.tune_epochs,
                    " rounds weights per output channel; it needs --group-size -1, got ",
                    options.group_size);
  }
  return options;
}

class RuquantMethod : public quant::QuantMethod {
 public:
  explicit RuquantMethod(const quant::MethodOptions& options)
      : _options(validated(options)),
        _weights(quant::create_method(options.rotation.weight_method, options)),
        _rtn(quant::create_method("rtn", options)),
        _generator(at::detail::createCPUGenerator(options.rotation.seed)) {}

  std::string name() const override { return "ruquant"; }
  bool needs_hessian() const override { return _weights->needs_hessian(); }
  bool needs_calibration() const override { return true; }
  bool refines_layers() const override { return _options.rotation.tune_epochs > 0; }

  void prepare_group(const quant::GroupCalibration& calibration) override {
    const auto start = Clock::now();
    const InputStats stats = observe_inputs(calibration);
    for (const auto& set : shared_input_sets(calibration)) {
      transform_inputs(calibration.lm, set, stats);
    }
    spdlog::info("ruquant: layer {} group of {} transformed in {:.3f}s", calibration.layer,
                 calibration.group.front(),
                 std::chrono::duration<double>(Clock::now() - start).count());
  }

  quant::QuantizedLinear quantize_linear(const std::string& module,
                                         const at::Tensor& weight,
                                         const quant::LinearStats& stats) override {
    quant::QuantizedLinear out;
    try {
      out = _weights->quantize_linear(module, weight, stats);
    } catch (const InputError&) {
      throw;
    } catch (const std::runtime_error& e) {
      // Here rather than in the pipeline's fallback, so the transform is still stored.
      spdlog::warn("{}: {} failed ({}); using rtn for this linear", module, _weights->name(),
                   e.what());
      out = _rtn->quantize_linear(module, weight, stats);
    }
    const auto it = _pending.find(module);
    PTQ_CHECK_INPUT(it != _pending.end(), "ruquant: linear ", module,
                    " was quantized without prepare_group");
    out.extra_tensors = it->second.tensors();
    _pending.erase(it);
    return out;
  }

  // The random stream: its position after layer k decides every later rotation.
  std::map<std::string, at::Tensor> layer_state() const override {
    PTQ_CHECK_INPUT(_pending.empty() && _tuned.empty(),
                    "ruquant: layer state taken with transforms pending");
    return {{kGeneratorState, _generator.get_state()}};
  }

  void restore_layer_state(const std::map<std::string, at::Tensor>& state) override {
    const auto it = state.find(kGeneratorState);
    PTQ_CHECK_INPUT(state.size() == 1 && it != state.end(), "ruquant: the saved layer state ",
                    "must hold exactly '", kGeneratorState, "'");
    const int64_t expected = _generator.get_state().numel();
    PTQ_CHECK_INPUT(it->second.scalar_type() == at::kByte && it->second.numel() == expected,
                    "ruquant: the saved generator state must be ", expected, " bytes");
    _generator.set_state(it->second.contiguous());
  }

  quant::RefinedLayer refine_layer(const quant::LayerRefinement& layer) override {
    if (_tuned.empty()) return {};
    const auto start = Clock::now();
    std::vector<at::Tensor> stage1;
    for (const ruquant::ReflectionSet& set : _tuned) stage1.push_back(set.transform.householder);
    const quant::UniformQuantizer grid(_options.quantizer);
    const ruquant::TuningLoss loss = ruquant::tune_reflections(
        layer, _tuned, {_options.rotation.tune_epochs, _options.rotation.tune_lr},
        [&grid](const at::Tensor& w) { return grid.fake_quantize_round_ste(w); });
    quant::RefinedLayer refined;
    refined.summary = {{"tune_epochs", _options.rotation.tune_epochs},
                       {"training_loss_first_epoch", loss.first_epoch},
                       {"training_loss_last_epoch", loss.last_epoch},
                       {"reflections", nlohmann::json::array()}};
    for (size_t i = 0; i < _tuned.size(); ++i) {
      const ruquant::ReflectionSet& set = _tuned[i];
      for (const std::string& name : set.linears) {
        quant::QuantizedLinear q =
            _weights->quantize_linear(name, layer.lm.weight(name + ".weight"), {});
        q.extra_tensors = set.transform.tensors();
        refined.linears[name] = std::move(q);
      }
      // |cos| of the tuned unit vector with stage 1's (v and -v give the same reflection).
      const double cosine = at::dot(stage1[i], set.transform.householder).abs().item<double>();
      refined.summary["reflections"].push_back(
          {{"linears", set.linears}, {"cosine_to_stage1", cosine}});
    }
    spdlog::info(
        "ruquant: layer {} reflections tuned ({} epochs, training loss {:.4g} -> {:.4g}) "
        "in {:.3f}s",
        layer.layer, _options.rotation.tune_epochs, loss.first_epoch, loss.last_epoch,
        std::chrono::duration<double>(Clock::now() - start).count());
    _tuned.clear();
    return refined;
  }

  nlohmann::json config_fields() const override {
    const auto& r = _options.rotation;
    nlohmann::json fields = {{"rotation", r.smooth_only ? "none" : "ruquant_stage1"},
                             {"alpha", r.alpha},
                             {"max_block_size", _options.block_size},
                             {"rotation_steps", r.steps},
                             {"perm_rounds", r.perm_rounds},
                             {"weight_method", r.weight_method},
                             {"weight_clip", _options.quantizer.clip},
                             {"seed", r.seed}};
    // Stage 1 checkpoints stay as they were; tuned ones say how their reflections were fitted.
    if (r.tune_epochs > 0) {
      fields["rotation"] = "ruquant_stage2";
      fields["tune_epochs"] = r.tune_epochs;
      fields["tune_lr"] = r.tune_lr;
    }
    return fields;
  }

 private:
  // Smoothing and (unless smooth_only) rotations for the linears `set` sharing one input,
  // folded into their weights and installed on their inputs.
  void transform_inputs(model::CausalLM& lm,
                        const std::vector<std::string>& set,
                        const InputStats& stats) {
    at::Tensor weight_max;
    for (const std::string& name : set) {
      const at::Tensor m = lm.weight(name + ".weight").abs().amax(0);
      weight_max = weight_max.defined() ? at::maximum(weight_max, m) : m;
    }
    auto transform = std::make_shared<quant::InputTransform>();
    transform->smooth = ruquant::smoothing_scales(stats.channel_max.at(set.front()), weight_max,
                                                  _options.rotation.alpha);
    const at::Tensor x = stats.mean_input.at(set.front()) / transform->smooth;
    const int64_t width = x.size(1);
    int64_t block = 0;
    double reflection_scale = 0;
    if (!_options.rotation.smooth_only) {
      block = ruquant::rotation_block_size(width, _options.block_size, set.front());
      reflection_scale =
          ruquant::add_rotations(x, {block, _options.rotation.steps, _options.rotation.perm_rounds},
                                 _generator, *transform);
    }
    // Stage 2 tunes the reflection from stage 1's (none when stage 1 skipped it: c was on
    // its target already).
    const bool tuned = refines_layers() && transform->householder.defined();
    if (tuned) _tuned.push_back({set, *transform, reflection_scale, {}});
    for (const std::string& name : set) {
      at::Tensor& w = lm.weight(name + ".weight");
      if (tuned) {
        quant::InputTransform unreflected = *transform;
        unreflected.householder = at::Tensor();
        _tuned.back().unreflected.push_back(unreflected.fold_into_weight(w));
      }
      w.copy_(transform->fold_into_weight(w));
      lm.set_input_transform(name,
                             [transform](const at::Tensor& in) { return transform->apply(in); });
      _pending[name] = *transform;
    }
    spdlog::info("ruquant: {} (+{} sharing its input): width {}, rotation block {}", set.front(),
                 set.size() - 1, width, block);
  }

  quant::MethodOptions _options;
  std::unique_ptr<quant::QuantMethod> _weights;  // rtn or gptq on the transformed weights
  std::unique_ptr<quant::QuantMethod> _rtn;      // when gptq fails on a linear
  // One instance per run: the transforms between prepare_group and quantize_linear and the
  // random stream (consumed in the pipeline's fixed order) are the run's state.
  at::Generator _generator;
  std::map<std::string, quant::InputTransform> _pending;
  // The current layer's sets for stage 2, from prepare_group to refine_layer.
  std::vector<ruquant::ReflectionSet> _tuned;
};

}  // namespace

std::unique_ptr<quant::QuantMethod> make_ruquant_method(const quant::MethodOptions& options) {
  return std::make_unique<RuquantMethod>(options);
}

std::vector<quant::MethodOption> ruquant_options() {
  using Options = quant::MethodOptions;
  return {
      {"--alpha", "alpha", "ruquant: SmoothQuant migration strength",
       [](Options& o) -> double& { return o.rotation.alpha; }, quant::OptionCheck::Finite},
      {"--rotation-steps", "rotation_steps", "ruquant: Householder steps per block rotation",
       [](Options& o) -> int& { return o.rotation.steps; }},
      {"--perm-rounds", "perm_rounds",
       "ruquant: random permutation + Givens passes per Householder step",
       [](Options& o) -> int& { return o.rotation.perm_rounds; }},
      {"--smooth-only", "smooth_only",
       "ruquant: smoothing without rotations (the smoothing baseline)",
       [](Options& o) -> bool& { return o.rotation.smooth_only; }},
      {"--weight-method", "weight_method",
       "ruquant: how the transformed weights are quantized, rtn | gptq",
       [](Options& o) -> std::string& { return o.rotation.weight_method; }},
      {"--tune-epochs", "tune_epochs",
       "ruquant stage 2: passes over the calibration samples fitting each layer's global "
       "reflections to the full-precision layer outputs (0: stage 1 only)",
       [](Options& o) -> int& { return o.rotation.tune_epochs; }},
      {"--tune-lr", "tune_lr", "ruquant stage 2: AdamW learning rate",
       [](Options& o) -> double& { return o.rotation.tune_lr; }, quant::OptionCheck::Positive},
  };
}

}  // namespace ptq::methods
