#pragma once
// ruquant: weight-and-activation quantization after smoothing and RUQuant's stage 1 rotations
// (Liu et al.'s RUQuant paper). Per group of linears sharing an input (q/k/v, gate/up, o,
// down): SmoothQuant scales from the calibration activations, then block Householder/Givens
// rotations, a zigzag permutation and a global Householder reflection computed on the mean
// calibration input; the transform is folded into the weights and applied to the input at run
// time (InputTransform), then the weights are quantized by `rotation.weight_method`.
// rotation.smooth_only keeps the smoothing and skips the rotations (the smoothing baseline).
// With rotation.tune_epochs > 0 (stage 2), each quantized layer's global reflections are then
// tuned to the full-precision layer outputs and its linears re-quantized (reflection_tuning.h).

#include <memory>
#include <vector>

#include "ptq/methods/method.h"

namespace ptq::methods {

std::unique_ptr<quant::QuantMethod> make_ruquant_method(const quant::MethodOptions& options);

// --alpha, --rotation-steps, --perm-rounds, --smooth-only, --weight-method, --tune-epochs,
// --tune-lr (--block-size, shared with GPTQ, is a common option).
std::vector<quant::MethodOption> ruquant_options();

}  // namespace ptq::methods
