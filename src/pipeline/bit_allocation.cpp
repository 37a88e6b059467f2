#include "ptq/pipeline/bit_allocation.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "io/read_file.h"
#include "ptq/common/error.h"

namespace ptq::quant {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

void check_candidates(const LinearCandidates& linear) {
  PTQ_CHECK_INPUT(!linear.candidates.empty(), "linear '", linear.module,
                  "' has no candidate settings");
  for (const SettingCost& c : linear.candidates) {
    PTQ_CHECK_INPUT(std::isfinite(c.bits) && c.bits >= 0 && std::isfinite(c.error) && c.error >= 0,
                    "linear '", linear.module, "' at ", c.setting.bits, " bits, group size ",
                    c.setting.group_size, ": bits ", c.bits, " and error ", c.error,
                    " must be finite and non-negative");
  }
}

double cheapest_bits(const LinearCandidates& linear) {
  double least = kInfinity;
  for (const SettingCost& c : linear.candidates) least = std::min(least, c.bits);
  return least;
}

// Costs in budget units, rounded up so that any choice that fits in units fits in bits.
std::vector<std::vector<int64_t>> unit_costs(const std::vector<LinearCandidates>& linears,
                                             double unit) {
  std::vector<std::vector<int64_t>> costs;
  for (const LinearCandidates& linear : linears) {
    std::vector<int64_t> row;
    for (const SettingCost& c : linear.candidates) {
      row.push_back(static_cast<int64_t>(std::ceil(c.bits / unit)));
    }
    costs.push_back(std::move(row));
  }
  return costs;
}

int setting_int(const nlohmann::json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  PTQ_CHECK_INPUT(it != object.end() && it->is_number_integer(), where, " needs an integer \"", key,
                  "\", got ", object.dump());
  return it->get<int>();
}

// {"bits": B, "group_size": G} with B in 2..8 and G -1 or positive, and optionally
// "keep_percent": P in 0..50 (SEPTQ); `where` names it in errors.
LinearSetting parse_setting(const nlohmann::json& value, const std::string& where) {
  const bool keep = value.is_object() && value.contains("keep_percent");
  PTQ_CHECK_INPUT(value.is_object() && value.size() == (keep ? 3u : 2u), where,
                  " must be {\"bits\": B, \"group_size\": G} with an optional "
                  "\"keep_percent\": P, got ",
                  value.dump());
  LinearSetting setting{setting_int(value, "bits", where), setting_int(value, "group_size", where)};
  if (keep) {
    const nlohmann::json& p = value.at("keep_percent");
    PTQ_CHECK_INPUT(p.is_number() && p.get<double>() >= 0 && p.get<double>() <= 50, where,
                    ": keep_percent ", p.dump(), " is not a number in 0..50");
    setting.keep_percent = p.get<double>();
  }
  PTQ_CHECK_INPUT(setting.bits >= 2 && setting.bits <= 8, where, ": bits ", setting.bits,
                  " is not 2 to 8");
  PTQ_CHECK_INPUT(setting.group_size == -1 || setting.group_size > 0, where, ": group_size ",
                  setting.group_size, " is neither -1 nor positive");
  return setting;
}

}  // namespace

std::map<std::string, LinearSetting> read_linear_settings(const std::string& path) {
  const nlohmann::json file = io::read_json_file(path);
  PTQ_CHECK_INPUT(file.is_object(), path, ": expected an object of module -> {bits, group_size}");
  std::map<std::string, LinearSetting> settings;
  for (const auto& [module, value] : file.items()) {
    settings[module] = parse_setting(value, path + ": '" + module + "'");
  }
  return settings;
}

std::vector<LinearSetting> read_candidates(const std::string& path) {
  const nlohmann::json file = io::read_json_file(path);
  PTQ_CHECK_INPUT(file.is_array() && !file.empty(), path,
                  ": expected a non-empty array of {\"bits\": B, \"group_size\": G}");
  std::vector<LinearSetting> candidates;
  for (size_t i = 0; i < file.size(); ++i) {
    const std::string where = path + ": candidate " + std::to_string(i);
    const LinearSetting setting = parse_setting(file[i], where);
    PTQ_CHECK_INPUT(std::find(candidates.begin(), candidates.end(), setting) == candidates.end(),
                    where, " repeats ", file[i].dump());
    candidates.push_back(setting);
  }
  return candidates;
}

nlohmann::json setting_json(const LinearSetting& setting) {
  nlohmann::json object = {{"bits", setting.bits}, {"group_size", setting.group_size}};
  if (setting.keep_percent >= 0) object["keep_percent"] = setting.keep_percent;
  return object;
}

nlohmann::json linear_settings_json(const std::map<std::string, LinearSetting>& settings) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [module, s] : settings) {
    object[module] = setting_json(s);
  }
  return object;
}

Allocation allocate_bits(const std::vector<LinearCandidates>& linears, double budget_bits) {
  double least = 0;
  for (const LinearCandidates& linear : linears) {
    check_candidates(linear);
    least += cheapest_bits(linear);
  }
  PTQ_CHECK_INPUT(least <= budget_bits, "a budget of ", budget_bits,
                  " bits is below what the cheapest candidate of every linear needs (", least,
                  " bits)");
  const double unit = std::max(1.0, budget_bits / static_cast<double>(kBudgetUnits));
  const int64_t capacity = static_cast<int64_t>(std::floor(budget_bits / unit));
  const std::vector<std::vector<int64_t>> costs = unit_costs(linears, unit);
  // error[c]: least summed error of the linears so far within c units; choice[l][c]: the
  // candidate linear l takes in it.
  std::vector<double> error(capacity + 1, 0.0);
  std::vector<std::vector<int>> choice(linears.size(), std::vector<int>(capacity + 1, -1));
  for (size_t l = 0; l < linears.size(); ++l) {
    std::vector<double> next(capacity + 1, kInfinity);
    for (int64_t c = 0; c <= capacity; ++c) {
      for (size_t j = 0; j < costs[l].size(); ++j) {
        const int64_t cost = costs[l][j];
        if (cost > c || error[c - cost] == kInfinity) continue;
        const double total = error[c - cost] + linears[l].candidates[j].error;
        if (total < next[c]) {
          next[c] = total;
          choice[l][c] = static_cast<int>(j);
        }
      }
    }
    error = std::move(next);
  }
  // Rounding up can make the cheapest choice exceed the units while it fits the bits.
  PTQ_CHECK_INPUT(error[capacity] < kInfinity, "a budget of ", budget_bits,
                  " bits leaves no room for the rounding of ", linears.size(),
                  " linears' costs to ", unit, "-bit units; the cheapest choice needs ", least);
  Allocation allocation;
  int64_t c = capacity;
  for (size_t l = linears.size(); l-- > 0;) {
    const SettingCost& chosen = linears[l].candidates[choice[l][c]];
    allocation.settings[linears[l].module] = chosen.setting;
    allocation.bits += chosen.bits;
    allocation.error += chosen.error;
    c -= costs[l][choice[l][c]];
  }
  return allocation;
}

}  // namespace ptq::quant
