#include "methods/gptq/gptq_method.h"

#include "ptq/quant/gptq.h"

namespace ptq::methods {

quant::GptqConfig gptq_config(const quant::MethodOptions& options) {
  quant::GptqConfig config;
  config.quantizer = options.quantizer;
  config.group_size = options.group_size;
  config.percdamp = options.percdamp;
  config.block_size = options.block_size;
  config.act_order = options.act_order;
  config.static_groups = options.static_groups;
  return config;
}

quant::PreparedHessian prepared_hessian(const quant::LinearStats& stats,
                                        const quant::GptqConfig& config) {
  if (stats.hessian_consumable) return quant::prepare_hessian_in_place(stats.hessian, config);
  return stats.shared ? stats.shared->get(stats.hessian, config)
                      : quant::prepare_hessian(stats.hessian, config);
}

namespace {

class GptqMethod : public quant::QuantMethod {
 public:
  explicit GptqMethod(const quant::MethodOptions& options) : _config(gptq_config(options)) {}

  std::string name() const override { return "gptq"; }
  bool needs_hessian() const override { return true; }

  quant::QuantizedLinear quantize_linear(const std::string& /*module*/,
                                         const at::Tensor& weight,
                                         const quant::LinearStats& stats) override {
    quant::GptqResult result =
        quant::gptq_quantize(weight, prepared_hessian(stats, _config), _config);
    quant::QuantizedLinear out;
    out.quantized = std::move(result.quantized);
    out.loss = result.loss;
    out.percdamp = result.percdamp;
    out.damp = result.damp;
    return out;
  }

 private:
  quant::GptqConfig _config;
};

}  // namespace

std::unique_ptr<quant::QuantMethod> make_gptq_method(const quant::MethodOptions& options) {
  return std::make_unique<GptqMethod>(options);
}

}  // namespace ptq::methods
