#include "methods/ruquant/reflection_tuning.h"

// The one place that trains: autograd and an optimiser need LibTorch's C++ API.
#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include <memory>

#include "ptq/quant/activation_quantizer.h"
#include "ptq/quant/attention_quantizer.h"

namespace ptq::methods::ruquant {
namespace {

// The same expression as InputTransform's reflection, so tuned and stored transforms agree.
at::Tensor reflect(const at::Tensor& x, const at::Tensor& v) {
  return x - 2 * at::matmul(x, v).unsqueeze(-1) * v;
}

// A set while it is trained: its parameter and the unit vector of the current step, which the
// input transforms installed in the model read.
struct TrainedSet {
  ReflectionSet& set;
  at::Tensor parameter;  // the reflection vector at set.scale, requires grad
  std::shared_ptr<at::Tensor> unit = std::make_shared<at::Tensor>();
};

void install_trainable(model::CausalLM& lm, const TrainedSet& trained) {
  const quant::InputTransform unreflected = [&] {
    quant::InputTransform t = trained.set.transform;
    t.householder = at::Tensor();
    return t;
  }();
  const std::shared_ptr<at::Tensor> unit = trained.unit;
  for (const std::string& name : trained.set.linears) {
    lm.set_input_transform(name, [unreflected, unit](const at::Tensor& x) {
      return reflect(unreflected.apply(x), *unit);
    });
  }
}

// Every linear input and attention operand of the layer rounds with a straight-through
// gradient while the layer trains (a set's gradient also flows through the other sets' inputs,
// through Q, K and V, and through each token's min/max grid), or plainly.
void install_activation_rounding(const quant::LayerRefinement& layer, quant::Rounding rounding) {
  if (layer.activations.enabled()) {
    for (const std::string& name : layer.lm.linear_names(layer.layer)) {
      layer.lm.set_input_quantizer(name, quant::per_token_quantizer(layer.activations, rounding));
    }
  }
  if (layer.attention.enabled()) {
    layer.lm.set_attention_quantizer(
        layer.layer,
        quant::attention_quantizer(layer.attention, layer.lm.config().head_dim, rounding));
  }
}

// The current step's reflected and rounded weights (straight-through, also through each row's
// grid), bound into the model's weight map so that the layer's forward pass reaches the
// parameters.
void bind_weights(model::CausalLM& lm, TrainedSet& trained, const WeightRounding& round_weight) {
  *trained.unit = trained.parameter / trained.parameter.norm();
  for (size_t i = 0; i < trained.set.linears.size(); ++i) {
    const at::Tensor w = reflect(trained.set.unreflected[i], *trained.unit);
    lm.weight(trained.set.linears[i] + ".weight") = round_weight(w);
  }
}

// The tuned vector into the set's transform, and plain tensors and closures into the model.
void install_tuned(model::CausalLM& lm, TrainedSet& trained) {
  const at::Tensor p = trained.parameter.detach();
  ReflectionSet& set = trained.set;
  set.transform.householder = (p / p.norm()).contiguous();
  const auto transform = std::make_shared<const quant::InputTransform>(set.transform);
  for (size_t i = 0; i < set.linears.size(); ++i) {
    const std::string& name = set.linears[i];
    lm.weight(name + ".weight") = reflect(set.unreflected[i], transform->householder);
    lm.set_input_transform(name, [transform](const at::Tensor& x) { return transform->apply(x); });
  }
}

}  // namespace

TuningLoss tune_reflections(const quant::LayerRefinement& layer,
                            std::vector<ReflectionSet>& sets,
                            const TuningSettings& settings,
                            const WeightRounding& round_weight) {
  const at::AutoGradMode grad(true);
  std::vector<TrainedSet> trained;
  std::vector<at::Tensor> parameters;
  for (ReflectionSet& set : sets) {
    at::Tensor parameter = (set.transform.householder * set.scale).detach().clone();
    parameter.requires_grad_(true);
    trained.push_back({set, parameter});
    parameters.push_back(parameter);
    install_trainable(layer.lm, trained.back());
  }
  install_activation_rounding(layer, quant::Rounding::StraightThrough);
  torch::optim::AdamW optimizer(parameters,
                                torch::optim::AdamWOptions(settings.lr).weight_decay(0));
  TuningLoss loss;
  const int64_t samples = layer.inputs.size(0);
  for (int epoch = 0; epoch < settings.epochs; ++epoch) {
    double total = 0;
    for (int64_t s = 0; s < samples; ++s) {
      optimizer.zero_grad();
      for (TrainedSet& t : trained) bind_weights(layer.lm, t, round_weight);
      const at::Tensor x = layer.inputs.slice(0, s, s + 1).to(at::kFloat);
      const at::Tensor y = layer.lm.forward_layer(layer.layer, x, 0, nullptr, nullptr);
      const at::Tensor step_loss = at::mse_loss(y, layer.targets.slice(0, s, s + 1).to(at::kFloat));
      step_loss.backward();
      optimizer.step();
      total += step_loss.item<double>();
    }
    const double mean = total / static_cast<double>(samples);
    if (epoch == 0) loss.first_epoch = mean;
    loss.last_epoch = mean;
  }
  for (TrainedSet& t : trained) install_tuned(layer.lm, t);
  install_activation_rounding(layer, quant::Rounding::Plain);
  return loss;
}

}  // namespace ptq::methods::ruquant
