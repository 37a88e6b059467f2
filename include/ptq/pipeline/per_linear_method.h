#pragma once
// A quantization method whose bits and group size differ per linear (`ptq quantize
// --linear-settings`, --target-bits): one instance of the named method per distinct setting,
// each linear quantized by the one of its setting. GPTQ's Hessian factorisation does not depend
// on the bits or group size, so linears sharing a Hessian share it across settings
// (SharedPreparation, gptq.h).
//
//   PerLinearMethod m("gptq", options, {{"model.layers.0.mlp.up_proj", {3, 128}}});
//   m.quantize_linear("model.layers.0.mlp.up_proj", w, stats);  // 3 bits, group size 128
//   m.quantize_linear("model.layers.0.mlp.down_proj", w, stats);  // options' bits, group size

#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "ptq/format/dynamic_settings.h"
#include "ptq/methods/method.h"

namespace ptq::quant {

// Throws InputError unless `method` can quantize linears at different settings: rtn, gptq and
// septq (RUQuant transforms whole groups and refines layers: its linears cannot be told apart).
void check_per_linear_method(const std::string& method);
// Throws InputError naming `where` when `setting` gives a keep_percent and `method` is not septq.
void check_keep_percent(const LinearSetting& setting,
                        const std::string& method,
                        const std::string& where);
// `options` at `setting`: its bits and group size, and its keep_percent when it gives one (read
// by septq only).
MethodOptions options_at(const MethodOptions& options, const LinearSetting& setting);

class PerLinearMethod : public QuantMethod {
 public:
  // Linears absent from `settings` get options.quantizer.bits and options.group_size. A
  // setting's keep_percent is SEPTQ's: the other methods read only its bits and group size (the
  // pipeline's RTN fallback for a SEPTQ linear keeps no weights). Throws InputError as
  // check_per_linear_method does.
  PerLinearMethod(const std::string& name,
                  const MethodOptions& options,
                  std::map<std::string, LinearSetting> settings);

  std::string name() const override { return _default->name(); }
  bool needs_hessian() const override { return _default->needs_hessian(); }
  bool needs_calibration() const override { return _default->needs_calibration(); }
  // The method's, and "keep_percent_per_linear" {module: percent} for linears whose setting
  // gives SEPTQ's keep_percent (the method's "keep_percent" covers the rest).
  nlohmann::json config_fields() const override;
  QuantizedLinear quantize_linear(const std::string& module,
                                  const at::Tensor& weight,
                                  const LinearStats& stats) override;

  // The setting `module` is quantized at.
  LinearSetting setting(const std::string& module) const;

 private:
  LinearSetting _top;
  std::map<std::string, LinearSetting> _settings;
  std::unique_ptr<QuantMethod> _default;
  std::map<std::tuple<int, int, double>, std::unique_ptr<QuantMethod>> _by_setting;
};

}  // namespace ptq::quant
