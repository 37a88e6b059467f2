#pragma once
// Weight-by-weight differences between two checkpoints of the same architecture, e.g. a model
// and its quantized copy (quantized linears are compared dequantized, as `ptq eval` loads
// them), for debugging a quantization:
//
//   WeightDiff d = diff_weights("models/llama", "out/llama-w4");
//   for (const LayerDiff& layer : d.layers) ... layer.relative_frobenius ...
//
// Streams both models one decoder layer at a time, so memory holds two layers.

#include <cstdint>
#include <string>
#include <vector>

namespace ptq::eval {

struct TensorDiff {
  std::string name;
  std::vector<int64_t> shape;
  double max_abs = 0;             // max |A - B|
  double relative_frobenius = 0;  // ||A - B||_F / ||A||_F (0 when both are zero)
  double squared_error = 0;       // ||A - B||_F^2, to aggregate
  double squared_norm = 0;        // ||A||_F^2
};

struct LayerDiff {
  int64_t index = -1;  // -1: the tensors outside the decoder layers
  double max_abs = 0;
  double relative_frobenius = 0;  // over all of the layer's tensors together
  std::vector<TensorDiff> tensors;
};

struct WeightDiff {
  std::string architecture;
  std::vector<LayerDiff> layers;  // the global tensors first, then layer 0, 1, ...
  double max_abs = 0;
  double relative_frobenius = 0;  // over every tensor
};

// Throws InputError naming both directories if their architectures or layer counts differ,
// or naming a tensor whose shapes differ.
WeightDiff diff_weights(const std::string& dir_a, const std::string& dir_b);

}  // namespace ptq::eval
