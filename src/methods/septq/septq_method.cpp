#include "methods/septq/septq_method.h"

#include <ATen/ATen.h>

#include "methods/gptq/gptq_method.h"
#include "methods/septq/global_mask.h"
#include "methods/septq/importance.h"
#include "ptq/common/error.h"
#include "ptq/format/outlier_store.h"
#include "ptq/quant/gptq.h"

namespace ptq::methods {
namespace {

constexpr double kMaxKeepPercent = 50;

// GPTQ's settings with the authors' quantizer: asymmetric, MSE-searched clipping.
quant::GptqConfig septq_config(const quant::MethodOptions& options) {
  PTQ_CHECK_INPUT(!options.quantizer.sym,
                  "septq quantizes with an asymmetric grid (as its authors); drop --sym");
  quant::GptqConfig config = gptq_config(options);
  config.quantizer.mse = true;
  return config;
}

class SeptqMethod : public quant::QuantMethod {
 public:
  explicit SeptqMethod(const quant::MethodOptions& options)
      : _config(septq_config(options)),
        _quantizer(_config.quantizer),
        _keep_percent(options.keep_percent) {
    PTQ_CHECK_INPUT(_keep_percent >= 0 && _keep_percent <= kMaxKeepPercent,
                    "--keep-percent must be in 0..", kMaxKeepPercent, ", got ", _keep_percent);
  }

  std::string name() const override { return "septq"; }
  bool needs_hessian() const override { return true; }

  quant::QuantizedLinear quantize_linear(const std::string& /*module*/,
                                         const at::Tensor& weight,
                                         const quant::LinearStats& stats) override {
    const quant::PreparedHessian hessian = prepared_hessian(stats, _config);
    // The scoring RTN's per-channel grid is the column loop's grid when quantizing per
    // channel: found once.
    const quant::QuantParams grid = _quantizer.find_params(weight.to(at::kFloat).contiguous());
    const at::Tensor keep = keep_mask(weight, hessian, grid);
    quant::GptqResult result = quant::gptq_quantize(weight, hessian, _config, keep,
                                                    _config.group_size == -1 ? &grid : nullptr);
    quant::QuantizedLinear out;
    out.quantized = std::move(result.quantized);
    out.loss = result.loss;
    out.percdamp = result.percdamp;
    out.damp = result.damp;
    if (_keep_percent > 0) store_kept_weights(out, keep);
    return out;
  }

  // SEPTQ's static global mask: the kept share of the largest importance scores. Its own
  // function so that no N x K temporary of the scoring outlives it (docs/quantize-bench.md,
  // round 9).
  at::Tensor keep_mask(const at::Tensor& weight,
                       const quant::PreparedHessian& hessian,
                       const quant::QuantParams& grid) const {
    // Without dead columns the weight itself (no copy; masked_fill would change no value).
    const at::Tensor fp32 = weight.to(at::kFloat);
    const at::Tensor w =
        hessian.dead.any().item<bool>() ? fp32.masked_fill(hessian.dead.unsqueeze(0), 0) : fp32;
    const at::Tensor scores = septq::importance_scores(w, _quantizer.quantize(w, grid), hessian);
    return septq::global_top_mask(scores, septq::kept_count(scores.numel(), _keep_percent));
  }

  // Not "mse": GPTQModel's meta.mse is a float norm with another meaning.
  nlohmann::json config_fields() const override { return {{"keep_percent", _keep_percent}}; }

 private:
  // The checkpoint keeps the kept weights in fp16; the in-memory weight takes the same
  // fp16-rounded values (as the authors' final cast to the model's fp16), so evaluating the
  // written directory and the quantized model in memory give the same numbers.
  static void store_kept_weights(quant::QuantizedLinear& out, const at::Tensor& keep) {
    const quant::OutlierStore store = quant::make_outlier_store(out.quantized.weight, keep);
    out.quantized.weight = out.quantized.weight.contiguous();
    quant::apply_outlier_store(out.quantized.weight, store);
    out.extra_tensors[quant::kOutlierIndexSuffix] = store.indices;
    out.extra_tensors[quant::kOutlierValueSuffix] = store.values;
  }

  quant::GptqConfig _config;
  quant::UniformQuantizer _quantizer;  // asymmetric, MSE clipping: scoring and column loop
  double _keep_percent;
};

}  // namespace

std::unique_ptr<quant::QuantMethod> make_septq_method(const quant::MethodOptions& options) {
  return std::make_unique<SeptqMethod>(options);
}

std::vector<quant::MethodOption> septq_options() {
  return {{"--keep-percent", "keep_percent",
           "septq: percent of each linear's weights kept in fp16 (0..50)",
           [](quant::MethodOptions& o) -> double& { return o.keep_percent; }}};
}

void septq_implies(quant::MethodOptions& options) { options.quantizer.mse = true; }

}  // namespace ptq::methods
