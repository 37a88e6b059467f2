#include "methods/rtn/rtn_method.h"

namespace ptq::methods {
namespace {

class RtnMethod : public quant::QuantMethod {
 public:
  explicit RtnMethod(const quant::MethodOptions& options)
      : _quantizer(options.quantizer), _group_size(options.group_size) {}

  std::string name() const override { return "rtn"; }
  bool needs_hessian() const override { return false; }

  quant::QuantizedLinear quantize_linear(const std::string& /*module*/,
                                         const at::Tensor& weight,
                                         const quant::LinearStats& /*stats*/) override {
    quant::QuantizedLinear out;
    out.quantized = quant::quantize_rtn(weight, _quantizer, _group_size);
    return out;
  }

 private:
  quant::UniformQuantizer _quantizer;
  int _group_size;
};

}  // namespace

std::unique_ptr<quant::QuantMethod> make_rtn_method(const quant::MethodOptions& options) {
  return std::make_unique<RtnMethod>(options);
}

}  // namespace ptq::methods
