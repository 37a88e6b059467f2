#include "methods/toy/toy_method.h"

#include <ATen/ATen.h>

#include "ptq/common/error.h"
#include "ptq/quant/uniform_quantizer.h"

namespace ptq::test {
namespace {

constexpr const char* kShrink = "toy_shrink";

// Absent when the options did not come through the command line: the default, no shrinking.
double shrink_of(const quant::MethodOptions& options) {
  const auto it = options.extra.find(kShrink);
  return it == options.extra.end() ? 0.0 : it->second;
}

class ToyMethod : public quant::QuantMethod {
 public:
  explicit ToyMethod(const quant::MethodOptions& options)
      : _quantizer(options.quantizer),
        _group_size(options.group_size),
        _shrink(shrink_of(options)) {
    PTQ_CHECK_INPUT(_shrink >= 0 && _shrink < 1, "toy: --toy-shrink must be in [0, 1), got ",
                    _shrink);
  }

  std::string name() const override { return "toy"; }
  bool needs_hessian() const override { return false; }

  quant::QuantizedLinear quantize_linear(const std::string& /*module*/,
                                         const at::Tensor& weight,
                                         const quant::LinearStats& /*stats*/) override {
    quant::QuantizedLinear out;
    out.quantized = quant::quantize_rtn(weight * (1 - _shrink), _quantizer, _group_size);
    return out;
  }

  nlohmann::json config_fields() const override { return {{kShrink, _shrink}}; }

 private:
  quant::UniformQuantizer _quantizer;
  int _group_size;
  double _shrink;
};

}  // namespace

quant::MethodEntry toy_method_entry() {
  return {"toy",
          "test only: shrink the weights toward zero by --toy-shrink, then round to nearest",
          [](const quant::MethodOptions& options) { return std::make_unique<ToyMethod>(options); },
          {{"--toy-shrink", kShrink, "toy: fraction each weight is shrunk toward zero",
            [](quant::MethodOptions& o) -> double& { return o.extra[kShrink]; }}}};
}

}  // namespace ptq::test
