#include "methods/septq/importance.h"

#include <ATen/ATen.h>

namespace ptq::methods::septq {

at::Tensor importance_scores(const at::Tensor& weight,
                             at::Tensor&& rtn,
                             const quant::PreparedHessian& hessian) {
  // U is in processing order; position inv_perm[c] holds original column c.
  const at::Tensor d =
      hessian.inverse.upper.diagonal().index_select(0, hessian.inv_perm).to(at::kFloat);
  // (rtn - w)^2 is (w - rtn)^2 bit for bit: IEEE subtraction is exactly antisymmetric.
  return rtn.sub_(weight).square_().div_(d.square().unsqueeze(0));
}

}  // namespace ptq::methods::septq
