#include "methods/ruquant/givens.h"

#include <ATen/ATen.h>

namespace ptq::methods::ruquant {

PairRotations pair_rotations(const at::Tensor& c, const at::Tensor& target) {
  const at::Tensor cp = c.to(at::kDouble).view({-1, 2});
  const at::Tensor tp = target.to(at::kDouble).view({-1, 2});
  const at::Tensor c0 = cp.select(1, 0), c1 = cp.select(1, 1);
  const at::Tensor t0 = tp.select(1, 0), t1 = tp.select(1, 1);
  const at::Tensor norm2 = c0 * c0 + c1 * c1;
  const at::Tensor zero = norm2 == 0;
  const at::Tensor safe = at::where(zero, at::ones_like(norm2), norm2);
  // cos = c.t / |c|^2, sin = (c0 t1 - c1 t0) / |c|^2 (the target pair has norm |c|).
  const at::Tensor cos = at::where(zero, at::ones_like(norm2), (c0 * t0 + c1 * t1) / safe);
  const at::Tensor sin = at::where(zero, at::zeros_like(norm2), (c0 * t1 - c1 * t0) / safe);
  return {cos.to(at::kFloat), sin.to(at::kFloat)};
}

at::Tensor rotate_row_pairs(const at::Tensor& m, const PairRotations& g) {
  const at::Tensor pairs = m.view({-1, 2, m.size(1)});
  const at::Tensor a = pairs.select(1, 0), b = pairs.select(1, 1);
  const at::Tensor cos = g.cos.unsqueeze(1), sin = g.sin.unsqueeze(1);
  return at::stack({cos * a - sin * b, sin * a + cos * b}, 1).view(m.sizes());
}

}  // namespace ptq::methods::ruquant
