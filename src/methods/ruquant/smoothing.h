#pragma once
// SmoothQuant's per-channel migration scales (as DuQuant/RUQuant apply them before rotating):
// s_j = max|x_j|^alpha / max|w_j|^(1 - alpha), x -> x / s, W -> W s.

#include <ATen/core/Tensor.h>

namespace ptq::methods::ruquant {

// act_max, weight_max [K] (max |x| per input channel over the calibration tokens, max |W| per
// input column over the linears sharing the input). Both are floored at 1e-5 and so is s,
// as smooth_ln_fcs does.
at::Tensor smoothing_scales(const at::Tensor& act_max, const at::Tensor& weight_max, double alpha);

}  // namespace ptq::methods::ruquant
