#include "ptq/eval/weight_diff.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "ptq/common/error.h"
#include "ptq/common/progress.h"
#include "ptq/format/quantized_checkpoint.h"
#include "ptq/model/causal_lm.h"

namespace ptq::eval {
namespace {

TensorDiff diff_tensor(const std::string& name,
                       const at::Tensor& a,
                       const at::Tensor& b,
                       const std::string& dir_b) {
  PTQ_CHECK_INPUT(a.sizes() == b.sizes(), "tensor ", name, " has shape ", a.sizes(),
                  " in one model and ", b.sizes(), " in ", dir_b);
  const at::Tensor ad = a.to(at::kDouble);
  const at::Tensor delta = ad - b.to(at::kDouble);
  TensorDiff diff;
  diff.name = name;
  diff.shape = a.sizes().vec();
  diff.max_abs = a.numel() > 0 ? delta.abs().max().item<double>() : 0.0;
  diff.squared_error = delta.square().sum().item<double>();
  diff.squared_norm = ad.square().sum().item<double>();
  return diff;
}

double relative(double squared_error, double squared_norm) {
  if (squared_norm > 0) return std::sqrt(squared_error / squared_norm);
  return squared_error > 0 ? INFINITY : 0.0;
}

LayerDiff diff_group(int64_t index,
                     const std::vector<std::string>& names,
                     const model::CausalLM& a,
                     const model::CausalLM& b,
                     const std::string& dir_b) {
  LayerDiff layer;
  layer.index = index;
  double error = 0, norm = 0;
  for (const std::string& name : names) {
    PTQ_CHECK_INPUT(b.has_weight(name), "tensor ", name, " is missing from ", dir_b);
    TensorDiff diff = diff_tensor(name, a.weight(name), b.weight(name), dir_b);
    diff.relative_frobenius = relative(diff.squared_error, diff.squared_norm);
    layer.max_abs = std::max(layer.max_abs, diff.max_abs);
    error += diff.squared_error;
    norm += diff.squared_norm;
    layer.tensors.push_back(std::move(diff));
  }
  layer.relative_frobenius = relative(error, norm);
  return layer;
}

}  // namespace

WeightDiff diff_weights(const std::string& dir_a, const std::string& dir_b) {
  const auto a = quant::load_model(dir_a, model::LoadOptions::lazy());
  const auto b = quant::load_model(dir_b, model::LoadOptions::lazy());
  const model::ModelConfig& ca = a->config();
  const model::ModelConfig& cb = b->config();
  PTQ_CHECK_INPUT(ca.architecture == cb.architecture && a->num_layers() == b->num_layers(), dir_a,
                  " (", ca.architecture, ", ", a->num_layers(), " layers) and ", dir_b, " (",
                  cb.architecture, ", ", b->num_layers(), " layers) are not the same architecture");
  WeightDiff result;
  result.architecture = ca.architecture;
  result.layers.push_back(diff_group(-1, a->global_weight_names(), *a, *b, dir_b));
  Progress progress("compare", a->num_layers());
  for (int64_t i = 0; i < a->num_layers(); ++i) {
    a->load_layer(i);
    b->load_layer(i);
    result.layers.push_back(diff_group(i, a->layer_weight_names(i), *a, *b, dir_b));
    a->unload_layer(i);
    b->unload_layer(i);
    progress.advance(1, "layer " + std::to_string(i));
  }
  double error = 0, norm = 0;
  for (const LayerDiff& layer : result.layers) {
    result.max_abs = std::max(result.max_abs, layer.max_abs);
    for (const TensorDiff& t : layer.tensors) {
      error += t.squared_error;
      norm += t.squared_norm;
    }
  }
  result.relative_frobenius = relative(error, norm);
  return result;
}

}  // namespace ptq::eval
