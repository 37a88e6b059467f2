#include "ptq/pipeline/per_linear_method.h"

#include <tuple>
#include <utility>

namespace ptq::quant {
namespace {

std::tuple<int, int, double> key_of(const LinearSetting& setting) {
  return {setting.bits, setting.group_size, setting.keep_percent};
}

}  // namespace

void check_per_linear_method(const std::string& method) {
  PTQ_CHECK_INPUT(method == "rtn" || method == "gptq" || method == "septq", "method '", method,
                  "' cannot quantize linears at different settings; rtn, gptq and septq can");
}

void check_keep_percent(const LinearSetting& setting,
                        const std::string& method,
                        const std::string& where) {
  PTQ_CHECK_INPUT(setting.keep_percent < 0 || method == "septq", where,
                  ": keep_percent is SEPTQ's; method '", method, "' keeps no weights");
}

MethodOptions options_at(const MethodOptions& options, const LinearSetting& setting) {
  MethodOptions own = options;
  own.quantizer.bits = setting.bits;
  own.group_size = setting.group_size;
  if (setting.keep_percent >= 0) own.keep_percent = setting.keep_percent;
  return own;
}

PerLinearMethod::PerLinearMethod(const std::string& name,
                                 const MethodOptions& options,
                                 std::map<std::string, LinearSetting> settings)
    : _top{options.quantizer.bits, options.group_size},
      _settings(std::move(settings)),
      _default(create_method(name, options)) {
  check_per_linear_method(name);
  for (const auto& [module, setting] : _settings) {
    auto& method = _by_setting[key_of(setting)];
    if (!method) method = create_method(name, options_at(options, setting));
  }
}

nlohmann::json PerLinearMethod::config_fields() const {
  nlohmann::json fields = _default->config_fields();
  nlohmann::json keep = nlohmann::json::object();
  for (const auto& [module, setting] : _settings) {
    if (setting.keep_percent >= 0) keep[module] = setting.keep_percent;
  }
  if (!keep.empty()) fields["keep_percent_per_linear"] = keep;
  return fields;
}

LinearSetting PerLinearMethod::setting(const std::string& module) const {
  const auto it = _settings.find(module);
  return it == _settings.end() ? _top : it->second;
}

QuantizedLinear PerLinearMethod::quantize_linear(const std::string& module,
                                                 const at::Tensor& weight,
                                                 const LinearStats& stats) {
  const auto it = _settings.find(module);
  QuantMethod& method = it == _settings.end() ? *_default : *_by_setting.at(key_of(it->second));
  return method.quantize_linear(module, weight, stats);
}

}  // namespace ptq::quant
