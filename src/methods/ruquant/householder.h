#pragma once
// The Householder reflection that maps a vector onto a target of the same norm (RUQuant stage
// 1 (a) and the global reflection): H = I - 2 v v^T with v = (c - t) / ||c - t||, so H c = t.

#include <ATen/core/Tensor.h>

namespace ptq::methods::ruquant {

// Unit v with (I - 2 v v^T) c = target, for ||target|| = ||c||; undefined when
// ||c - target||^2 < 1e-10 (c is already there: the authors' code skips the step).
at::Tensor householder_vector(const at::Tensor& c, const at::Tensor& target);

// (I - 2 v v^T) m for m [B, cols] (v acts on the rows' index).
at::Tensor reflect_rows(const at::Tensor& m, const at::Tensor& v);

}  // namespace ptq::methods::ruquant
