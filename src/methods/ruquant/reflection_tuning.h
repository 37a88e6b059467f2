#pragma once
// RUQuant stage 2 (paper Sec. 3.3; the authors' --lh with --epochs): once a decoder layer is
// quantized, the global Householder vector of each set of linears sharing an input becomes a
// trainable parameter, fitted with AdamW (weight decay 0) to minimise the MSE between the
// full-precision layer's outputs and the quantized layer's, one calibration sample per step,
// with straight-through estimators for weight and activation rounding (round() passes the
// identity's gradient; each token's and weight row's min/max grid passes its own, as the authors'
// round_ste quantizers). How this compares with the authors' code: docs/ruquant-stage2.md.
// As the authors' loop (OmniQuant's), the quantized layer runs on the quantized stream and its
// targets are the full-precision layer on the full-precision stream, so the tuned reflections
// also make up for the error of the layers before.
// The authors' truncate_number (a floor of 1e-2 on |entries| before each step) is left out.

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "ptq/methods/method.h"
#include "ptq/quant/input_transform.h"

namespace ptq::methods::ruquant {

// The linears sharing one input, with what stage 2 needs of their stage-1 transform.
struct ReflectionSet {
  std::vector<std::string> linears;
  quant::InputTransform transform;  // householder: unit, stage 1's in, the tuned one out
  double scale = 1;                 // the vector's length while trained (the authors' omg)
  // Per linear: its fp32 weight with every factor but the reflection folded in.
  std::vector<at::Tensor> unreflected;
};

struct TuningSettings {
  int epochs = 1;
  double lr = 1e-2;
};

// Weight rounding on the final quantization's grid, differentiable for training (round_ste):
// W [N, K] -> fake-quantized W.
using WeightRounding = std::function<at::Tensor(const at::Tensor&)>;

struct TuningLoss {
  double first_epoch = 0;  // mean training loss over the samples of the first epoch
  double last_epoch = 0;
};

// Tunes the householder of every set (left unit-norm in set.transform), then leaves the sets'
// linears plain (no autograd history): weight = the reflected, unquantized weight; input
// transform = set.transform; input quantizer = per token at layer.activations (if enabled).
TuningLoss tune_reflections(const quant::LayerRefinement& layer,
                            std::vector<ReflectionSet>& sets,
                            const TuningSettings& settings,
                            const WeightRounding& round_weight);

}  // namespace ptq::methods::ruquant
