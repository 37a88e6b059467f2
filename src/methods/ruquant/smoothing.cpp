#include "methods/ruquant/smoothing.h"

#include <ATen/ATen.h>

namespace ptq::methods::ruquant {
namespace {

constexpr double kFloor = 1e-5;

}  // namespace

at::Tensor smoothing_scales(const at::Tensor& act_max, const at::Tensor& weight_max, double alpha) {
  const at::Tensor a = act_max.to(at::kDouble).clamp_min(kFloor).pow(alpha);
  const at::Tensor w = weight_max.to(at::kDouble).clamp_min(kFloor).pow(1 - alpha);
  return (a / w).clamp_min(kFloor).to(at::kFloat);
}

}  // namespace ptq::methods::ruquant
