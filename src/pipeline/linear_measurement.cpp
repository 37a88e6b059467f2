#include "ptq/pipeline/linear_measurement.h"

#include <ATen/ATen.h>

#include <cstdio>

#include "io/read_file.h"
#include "ptq/common/error.h"
#include "ptq/format/storage_bits.h"
#include "ptq/pipeline/per_linear_method.h"
#include "ptq/quant/relative_error.h"

namespace ptq::quant {

std::vector<LinearSetting> default_candidates(const std::string& method) {
  std::vector<LinearSetting> candidates;
  for (const int bits : {2, 3, 4, 5, 6, 8}) {
    for (const int group_size : {-1, 128, 64, 32}) {
      if (method != "septq") {
        candidates.push_back({bits, group_size});
        continue;
      }
      for (const double keep : {0.5, 1.0, 2.0}) candidates.push_back({bits, group_size, keep});
    }
  }
  return candidates;
}

nlohmann::json measurement_json(const nlohmann::json& identity,
                                const std::vector<LinearCandidates>& linears) {
  nlohmann::json list = nlohmann::json::array();
  for (const LinearCandidates& linear : linears) {
    nlohmann::json candidates = nlohmann::json::array();
    for (const SettingCost& c : linear.candidates) {
      nlohmann::json candidate = setting_json(c.setting);
      candidate["storage_bits"] = c.bits;
      candidate["error"] = c.error;
      candidates.push_back(candidate);
    }
    list.push_back(
        {{"module", linear.module}, {"weights", linear.weights}, {"candidates", candidates}});
  }
  return {{"identity", identity}, {"linears", list}};
}

std::vector<LinearCandidates> read_measurement(const std::string& path,
                                               const nlohmann::json& identity) {
  const nlohmann::json file = io::read_json_file(path);
  PTQ_CHECK_INPUT(file.is_object() && file.contains("identity") && file.contains("linears"), path,
                  ": not a measurement (expected \"identity\" and \"linears\")");
  std::string differing;
  for (const auto& [key, value] : identity.items()) {
    if (file["identity"].value(key, nlohmann::json()) != value) differing += " " + key;
  }
  PTQ_CHECK_INPUT(differing.empty() && file["identity"].size() == identity.size(), path,
                  " was measured with other settings or inputs (differing:",
                  differing.empty() ? " other keys" : differing, "); delete it to measure again");
  std::vector<LinearCandidates> linears;
  try {
    for (const nlohmann::json& entry : file.at("linears")) {
      LinearCandidates linear{
          entry.at("module").get<std::string>(), {}, entry.at("weights").get<int64_t>()};
      for (const nlohmann::json& c : entry.at("candidates")) {
        linear.candidates.push_back({{c.at("bits").get<int>(), c.at("group_size").get<int>(),
                                      c.value("keep_percent", -1.0)},
                                     c.at("storage_bits").get<double>(),
                                     c.at("error").get<double>()});
      }
      linears.push_back(std::move(linear));
    }
  } catch (const nlohmann::json::exception& e) {
    PTQ_THROW_INPUT(path, ": malformed measurement: ", e.what());
  }
  return linears;
}

MeasuringMethod::MeasuringMethod(const std::string& name,
                                 const MethodOptions& options,
                                 const std::vector<LinearSetting>& candidates) {
  PTQ_CHECK_INPUT(!candidates.empty(), "no candidate settings to measure");
  check_per_linear_method(name);
  for (const LinearSetting& setting : candidates) {
    check_keep_percent(setting, name, "candidate " + setting_json(setting).dump());
    _methods.emplace_back(setting, create_method(name, options_at(options, setting)));
  }
}

QuantizedLinear MeasuringMethod::quantize_linear(const std::string& module,
                                                 const at::Tensor& weight,
                                                 const LinearStats& stats) {
  LinearCandidates linear{module, {}, weight.numel()};
  QuantizedLinear carried;
  double most_bits = -1;
  // Relative to the output's own energy tr(W H W^T), so that linears whose outputs differ in
  // scale (attention logits, MLP activations, residual updates) weigh alike.
  const double energy = quadratic_trace(weight, stats.hessian);
  // Every candidate, and the error below, reads H: none may consume it.
  LinearStats shared_stats = stats;
  shared_stats.hessian_consumable = false;
  for (const auto& [setting, method] : _methods) {
    QuantizedLinear q = method->quantize_linear(module, weight, shared_stats);
    const double bits = storage_bits(q.quantized, q.extra_tensors, setting.bits).total();
    // A GPTQ sweep (gptq, septq) has its error at hand; RTN's is traced.
    const double change =
        q.damp > 0 ? sweep_output_error(weight, q.quantized.weight, stats.hessian, q.loss, q.damp)
                   : quadratic_trace(weight - q.quantized.weight, stats.hessian);
    const double error = energy > 0 ? change / energy : change;
    linear.candidates.push_back({setting, bits, error});
    if (bits > most_bits) {
      most_bits = bits;
      carried = std::move(q);
    }
  }
  const std::lock_guard<std::mutex> lock(_mutex);
  _measured.push_back(std::move(linear));
  return carried;
}

std::vector<LinearCandidates> MeasuringMethod::measured() const {
  const std::lock_guard<std::mutex> lock(_mutex);
  return _measured;
}

namespace {

constexpr const char* kWeightsSuffix = " weights";

std::string state_key(size_t index, const std::string& module) {
  char number[32];
  std::snprintf(number, sizeof(number), "%06zu ", index);
  return number + module;
}

}  // namespace

std::map<std::string, at::Tensor> MeasuringMethod::layer_state() const {
  const std::lock_guard<std::mutex> lock(_mutex);
  std::map<std::string, at::Tensor> state;
  for (size_t i = 0; i < _measured.size(); ++i) {
    const LinearCandidates& linear = _measured[i];
    at::Tensor costs = at::empty({static_cast<int64_t>(linear.candidates.size()), 5}, at::kDouble);
    double* row = costs.data_ptr<double>();
    for (const SettingCost& c : linear.candidates) {
      *row++ = c.setting.bits;
      *row++ = c.setting.group_size;
      *row++ = c.setting.keep_percent;
      *row++ = c.bits;
      *row++ = c.error;
    }
    const std::string key = state_key(i, linear.module);
    state[key] = costs;
    state[key + kWeightsSuffix] = at::full({1}, linear.weights, at::kLong);
  }
  return state;
}

void MeasuringMethod::restore_layer_state(const std::map<std::string, at::Tensor>& state) {
  std::vector<LinearCandidates> measured;
  const auto candidates = static_cast<int64_t>(_methods.size());
  for (auto it = state.begin(); it != state.end(); ++it) {
    const std::string prefix = state_key(measured.size(), "");
    PTQ_CHECK_INPUT(it->first.rfind(prefix, 0) == 0, "measurement state: entry '", it->first,
                    "' where linear ", measured.size(), " was expected");
    const at::Tensor costs = it->second;
    PTQ_CHECK_INPUT(costs.scalar_type() == at::kDouble && costs.dim() == 2 &&
                        costs.size(0) == candidates && costs.size(1) == 5,
                    "measurement state: '", it->first, "' is not fp64 [", candidates, ", 5]");
    const auto weights = std::next(it);
    PTQ_CHECK_INPUT(weights != state.end() && weights->first == it->first + kWeightsSuffix &&
                        weights->second.scalar_type() == at::kLong && weights->second.numel() == 1,
                    "measurement state: '", it->first, "' has no int64 weight count");
    LinearCandidates linear{it->first.substr(prefix.size()), {}, weights->second.item<int64_t>()};
    const at::Tensor c = costs.contiguous();
    const double* row = c.data_ptr<double>();
    for (const auto& [setting, method] : _methods) {
      PTQ_CHECK_INPUT(
          row[0] == setting.bits && row[1] == setting.group_size && row[2] == setting.keep_percent,
          "measurement state: '", it->first, "' was measured at other candidates");
      linear.candidates.push_back({setting, row[3], row[4]});
      row += 5;
    }
    measured.push_back(std::move(linear));
    it = weights;
  }
  const std::lock_guard<std::mutex> lock(_mutex);
  _measured = std::move(measured);
}

}  // namespace ptq::quant
