#pragma once
// Where model loading takes the weights a checkpoint does not store as plain tensors. By
// default (no source) every weight is a floating tensor of the checkpoint under its Hugging
// Face name; a source serves the ones stored in another form, e.g. a GPTQ directory's
// quantized linears, whose "<module>.weight" is stored packed (ptq/format/quantized_checkpoint.h
// supplies that source with quant::load_model). Model loading asks the source first, for
// every tensor, at load time (provides) and on each load_layer (load), so lazy and streamed
// loading read through it too (ptq/model/causal_lm.h).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ptq::io {
class Checkpoint;
}

namespace ptq::model {

class WeightSource {
 public:
  virtual ~WeightSource() = default;

  // true if the source serves tensor `name` of `checkpoint` and what it stores implies
  // `shape`; false if `name` is the checkpoint's plain tensor (or missing from it); InputError
  // naming the tensor and the checkpoint when the source serves it with another shape.
  virtual bool provides(const io::Checkpoint& checkpoint,
                        const std::string& name,
                        const std::vector<int64_t>& shape) const = 0;
  // The fp32 contiguous tensor `name` if the source serves it, else nothing.
  virtual std::optional<at::Tensor> load(const io::Checkpoint& checkpoint,
                                         const std::string& name) const = 0;
};

}  // namespace ptq::model
