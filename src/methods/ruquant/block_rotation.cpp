#include "methods/ruquant/block_rotation.h"

#include <ATen/ATen.h>

#include "methods/ruquant/givens.h"
#include "methods/ruquant/householder.h"

namespace ptq::methods::ruquant {
namespace {

// uniform[0,1)^B with each pair rescaled to the norm of the matching pair of c.
at::Tensor pairwise_target(const at::Tensor& c, at::Generator& gen) {
  const at::Tensor u = at::rand({c.numel() / 2, 2}, gen, at::kFloat);
  const at::Tensor c_norms = c.view({-1, 2}).norm(2, 1, /*keepdim=*/true);
  // A uniform pair is (0, 0) with probability 0; the floor keeps the division finite anyway.
  return (u * (c_norms / u.norm(2, 1, true).clamp_min(1e-30))).view(-1);
}

}  // namespace

int64_t largest_column(const at::Tensor& x) { return x.abs().argmax().item<int64_t>() % x.size(1); }

at::Tensor uniform_target(int64_t n, double norm, at::Generator& gen) {
  const at::Tensor u = at::rand({n}, gen, at::kFloat);
  return u * static_cast<float>(norm / u.norm().item<double>());
}

BlockRotation block_rotation(const at::Tensor& x, int steps, int perm_rounds, at::Generator& gen) {
  const int64_t b = x.size(0);
  at::Tensor m = x.to(at::kFloat);
  at::Tensor r = at::eye(b, at::kFloat);
  for (int step = 0; step < steps; ++step) {
    const at::Tensor c = m.select(1, largest_column(m));
    const at::Tensor v = householder_vector(c, uniform_target(b, c.norm().item<double>(), gen));
    if (v.defined()) {
      m = reflect_rows(m, v);
      r = reflect_rows(r, v);
    }
    for (int round = 0; round < perm_rounds; ++round) {
      const at::Tensor perm = at::randperm(b, gen, at::kLong);
      m = m.index_select(0, perm);
      r = r.index_select(0, perm);
      const at::Tensor cp = m.select(1, largest_column(m));
      const PairRotations g = pair_rotations(cp, pairwise_target(cp, gen));
      m = rotate_row_pairs(m, g);
      r = rotate_row_pairs(r, g);
    }
  }
  return {r, m};
}

}  // namespace ptq::methods::ruquant
