#include "ptq/quant/attention_quantizer.h"

#include <ATen/ATen.h>

#include <cmath>

#include "ptq/quant/input_transform.h"

namespace ptq::quant {

int64_t hadamard_block_size(int64_t head_dim) {
  TORCH_CHECK(head_dim > 0, "head_dim must be positive, got ", head_dim);
  return head_dim & -head_dim;  // the lowest set bit
}

at::Tensor hadamard_matrix(int64_t order) {
  TORCH_CHECK(order > 0 && (order & (order - 1)) == 0, "Hadamard order ", order,
              " is not a power of two");
  at::Tensor h = at::ones({1, 1}, at::kDouble);
  while (h.size(0) < order) h = at::cat({at::cat({h, h}, 1), at::cat({h, -h}, 1)}, 0);
  return (h / std::sqrt(static_cast<double>(order))).to(at::kFloat);
}

model::AttentionInputs attention_quantizer(const ActivationQuantizerConfig& config,
                                           int64_t head_dim,
                                           Rounding rounding) {
  if (!config.enabled()) return {};
  const at::Tensor hadamard = hadamard_matrix(hadamard_block_size(head_dim));
  const model::TensorMap quantize = per_token_quantizer(config, rounding);
  const model::TensorMap rotate_and_quantize = [hadamard, quantize](const at::Tensor& x) {
    return quantize(apply_blocks(x, hadamard));
  };
  return {rotate_and_quantize, rotate_and_quantize, quantize};
}

}  // namespace ptq::quant
