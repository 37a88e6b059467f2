#pragma once
// Helpers shared by the quantizer tests.

#include <ATen/ATen.h>

#include <vector>

#include "ptq/methods/method.h"
#include "ptq/quant/gptq.h"

namespace ptq::quant::test_helpers {

// A float matrix from its rows.
inline at::Tensor matrix(const std::vector<std::vector<float>>& rows) {
  std::vector<at::Tensor> tensors;
  for (const auto& row : rows) tensors.push_back(at::tensor(row, at::kFloat));
  return at::stack(tensors);
}

// H = 2/n sum x x^T of inputs x ([tokens, K] or [samples, tokens, K]), as calibration has it.
inline at::Tensor hessian_of(const at::Tensor& x) {
  HessianAccumulator accumulator(x.size(-1));
  accumulator.add_batch(x);
  return accumulator.hessian();
}

// Method options at `bits` and `group_size`, the rest at their defaults.
inline MethodOptions method_options(int bits, int group_size) {
  MethodOptions o;
  o.quantizer.bits = bits;
  o.group_size = group_size;
  return o;
}

}  // namespace ptq::quant::test_helpers
