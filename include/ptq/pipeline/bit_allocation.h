#pragma once
// Choosing each linear's quantization setting under a storage budget (`ptq quantize
// --target-bits`): every linear has candidate settings, each with its exact storage bits
// (storage_bits.h) and its output error on the calibration set; pick one per linear so that the
// summed error is least and the summed bits fit the budget.
//
// This is a multiple-choice knapsack. It is solved by dynamic programming over the budget cut
// into kBudgetUnits units, each candidate's bits rounded up to whole units: the result always
// fits the budget, and it is the exact optimum whenever the bits are whole multiples of the unit
// (e.g. a budget of at most kBudgetUnits bits); otherwise the rounding costs at most one unit per
// linear. Cost: linears x candidates x kBudgetUnits steps (224 x 24 x 2^14, about 10^8, for a 7B
// LLaMA). docs/format.md says why not exllamav2's annealing.
//
//   Allocation a = allocate_bits(linears, 3.5 * total_weights);
//   a.settings.at("model.layers.0.mlp.up_proj");  // {bits, group_size}

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ptq/format/dynamic_settings.h"

namespace ptq::quant {

constexpr int64_t kBudgetUnits = int64_t{1} << 14;

struct SettingCost {
  LinearSetting setting;
  double bits = 0;   // storage of the linear at `setting`
  double error = 0;  // its output error on the calibration set
};

struct LinearCandidates {
  std::string module;
  std::vector<SettingCost> candidates;
  int64_t weights = 0;  // N * K
};

struct Allocation {
  std::map<std::string, LinearSetting> settings;  // module -> chosen setting
  double bits = 0;                                // summed storage of the choice
  double error = 0;                               // summed error of the choice
};

// The per-linear settings file of `ptq quantize --linear-settings` (what --target-bits would
// choose): {"<module>": {"bits": 3, "group_size": 128}, ...}, each optionally with SEPTQ's
// "keep_percent" (0..50). Throws InputError naming `path` and the module for anything else: not
// an object, other keys, bits outside 2..8, a group size neither -1 nor positive.
std::map<std::string, LinearSetting> read_linear_settings(const std::string& path);
// The candidates file of `ptq quantize --candidates` (default: default_candidates() of
// linear_measurement.h): [{"bits": 3, "group_size": 128}, ...]. Throws InputError naming `path`
// and the entry for anything else: not a non-empty array, a setting read_linear_settings would
// refuse, a setting given twice.
std::vector<LinearSetting> read_candidates(const std::string& path);
// One setting as those files hold it: {"bits", "group_size"} and "keep_percent" when set.
nlohmann::json setting_json(const LinearSetting& setting);
// The same object as read_linear_settings reads, for reports.
nlohmann::json linear_settings_json(const std::map<std::string, LinearSetting>& settings);

// Throws InputError when a linear has no candidates, a candidate has negative or non-finite
// bits or error, or even the cheapest candidates exceed `budget_bits` (the message gives the
// least budget that fits).
Allocation allocate_bits(const std::vector<LinearCandidates>& linears, double budget_bits);

}  // namespace ptq::quant
