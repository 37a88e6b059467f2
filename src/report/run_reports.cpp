#include "ptq/report/run_reports.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "io/read_file.h"
#include "ptq/common/error.h"
#include "ptq/methods/method.h"

namespace ptq::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The value at a dotted path of objects; nullptr when it is absent or null.
const json* node_at(const json& report, const std::string& path) {
  const json* node = &report;
  size_t begin = 0;
  while (true) {
    const size_t dot = path.find('.', begin);
    const std::string key = path.substr(begin, dot == std::string::npos ? dot : dot - begin);
    if (!node->is_object() || !node->contains(key) || (*node)[key].is_null()) return nullptr;
    node = &(*node)[key];
    if (dot == std::string::npos) return node;
    begin = dot + 1;
  }
}

// The value at a dotted path as a T; InputError naming the file and key otherwise.
template <typename T>
T value_at(const json& report, const std::string& path, const std::string& file) {
  const json* node = node_at(report, path);
  PTQ_CHECK_INPUT(node != nullptr, file, ": the report has no \"", path, "\"");
  try {
    return node->get<T>();
  } catch (const json::exception&) {
    PTQ_THROW_INPUT(file, ": \"", path, "\" has the invalid value ", node->dump());
  }
}

// "out/q", "out/./q/" and "out/q/" name one directory.
std::string path_key(const std::string& path) {
  std::string key = fs::path(path).lexically_normal().string();
  if (key.size() > 1 && key.back() == '/') key.pop_back();
  return key;
}

bool is_quantize_report(const json& report) {
  return report.is_object() && report.contains("settings") && report.contains("storage");
}

// ptq eval's three reports: perplexity, zero-shot tasks (--tasks) and KL divergence.
bool is_eval_report(const json& report) {
  return report.is_object() && report.contains("config") &&
         (report.contains("perplexity") || report.contains("tasks") ||
          report.contains("kl_divergence"));
}

// The value at `path` and its standard error at path + "_stderr" (null or absent: one sample).
Score score_at(const json& report, const std::string& path, const std::string& file) {
  Score score{value_at<double>(report, path, file), std::nullopt};
  if (node_at(report, path + "_stderr") != nullptr) {
    score.stderr_value = value_at<double>(report, path + "_stderr", file);
  }
  return score;
}

// The numbers of one eval report added to the row of the model it evaluated.
void add_eval(RunRow& row, const json& report, const std::string& file) {
  if (report.contains("tasks")) {
    const json& tasks = report["tasks"];
    PTQ_CHECK_INPUT(tasks.is_object(), file, ": \"tasks\" is not an object");
    for (const auto& [task, result] : tasks.items()) {
      const std::string metrics = "tasks." + task + ".metrics";
      PTQ_CHECK_INPUT(
          result.is_object() && result.contains("metrics") && result["metrics"].is_object(), file,
          ": the report has no \"", metrics, "\"");
      for (const auto& [name, value] : result["metrics"].items()) {
        if (name.size() > 7 && name.compare(name.size() - 7, 7, "_stderr") == 0) continue;
        row.task_metrics[task + " " + name] = score_at(report, metrics + "." + name, file);
      }
    }
    return;
  }
  const std::string dataset = dataset_label(value_at<std::string>(report, "config.dataset", file));
  if (report.contains("kl_divergence")) {
    row.mean_kld[dataset] = score_at(report, "kl_divergence.mean_kld", file);
    row.top1_agreement[dataset] = score_at(report, "kl_divergence.top1_agreement", file);
    return;
  }
  row.perplexity[dataset] = value_at<double>(report, "perplexity", file);
}

template <typename Value>
std::vector<std::string> keys_of(const std::vector<RunRow>& rows,
                                 std::map<std::string, Value> RunRow::*member) {
  std::set<std::string> keys;
  for (const RunRow& row : rows) {
    for (const auto& [key, value] : row.*member) keys.insert(key);
  }
  return {keys.begin(), keys.end()};
}

// The table's keep-percent column: set for a method that owns that setting (septq); every
// other method's report records the default, which it does not read.
constexpr const char* kKeepPercent = "keep_percent";

bool owns_setting(const std::string& method, const std::string& key) {
  for (const quant::MethodEntry& entry : quant::method_entries()) {
    if (entry.name != method) continue;
    return std::any_of(entry.options.begin(), entry.options.end(),
                       [&](const quant::MethodOption& option) { return option.key == key; });
  }
  return false;
}

RunRow quantize_row(const json& report, const std::string& file) {
  RunRow row;
  row.method = value_at<std::string>(report, "settings.method", file);
  row.bits = value_at<int>(report, "settings.wbits", file);
  row.group_size = value_at<int>(report, "settings.group_size", file);
  row.act_bits =
      report["settings"].contains("abits") ? value_at<int>(report, "settings.abits", file) : 16;
  if (owns_setting(row.method, kKeepPercent))
    row.keep_percent = value_at<double>(report, std::string("settings.") + kKeepPercent, file);
  row.bits_per_weight = value_at<double>(report, "storage.bits_per_weight", file);
  row.quantize_seconds = value_at<double>(report, "quantize_seconds", file);
  row.model = value_at<std::string>(report, "settings.out", file);
  if (report.contains("eval")) {
    row.perplexity[dataset_label(value_at<std::string>(report, "eval.dataset", file))] =
        value_at<double>(report, "eval.perplexity", file);
  }
  return row;
}

// The row of an eval report's model from the settings ptq eval records of its checkpoint.
RunRow checkpoint_row(const json& report, const std::string& file) {
  PTQ_CHECK_INPUT(report.contains("checkpoint"), file, ": an eval report of ",
                  value_at<std::string>(report, "config.model", file),
                  ", which no quantize report given writes, without \"checkpoint\" (the "
                  "model's settings, recorded by this version of ptq eval)");
  RunRow row;
  row.model = value_at<std::string>(report, "config.model", file);
  if (report["checkpoint"].contains("quantization")) {
    row.method = value_at<std::string>(report, "checkpoint.quantization.method", file);
    row.bits = value_at<int>(report, "checkpoint.quantization.bits", file);
    row.group_size = value_at<int>(report, "checkpoint.quantization.group_size", file);
    row.act_bits = value_at<int>(report, "checkpoint.quantization.act_bits", file);
    row.bits_per_weight = value_at<double>(report, "checkpoint.quantization.bits_per_weight", file);
    if (owns_setting(row.method, kKeepPercent)) {
      row.keep_percent = value_at<double>(
          report, std::string("checkpoint.quantization.method_fields.") + kKeepPercent, file);
    }
    return row;
  }
  const auto bytes =
      value_at<std::map<std::string, double>>(report, "checkpoint.dtype_bytes", file);
  const auto parameters = value_at<double>(report, "checkpoint.parameters", file);
  PTQ_CHECK_INPUT(parameters > 0, file, ": \"checkpoint.parameters\" is not positive");
  double total = 0;
  for (const auto& [dtype, count] : bytes) total += count;
  row.method = "fp";
  row.bits_per_weight = 8 * total / parameters;
  row.bits = static_cast<int>(std::lround(row.bits_per_weight));
  return row;
}

std::vector<std::string> report_files(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    if (!fs::is_directory(path)) {
      PTQ_CHECK_INPUT(fs::is_regular_file(path), "report ", path, " does not exist");
      files.push_back(path);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator(path)) {
      if (entry.is_regular_file() && entry.path().extension() == ".json") {
        found.push_back(entry.path().string());
      }
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

bool row_order(const RunRow& a, const RunRow& b) {
  return std::make_tuple(a.quantized(), a.method, -a.bits, a.group_size, -a.act_bits,
                         a.keep_percent.value_or(0), a.bits_per_weight) <
         std::make_tuple(b.quantized(), b.method, -b.bits, b.group_size, -b.act_bits,
                         b.keep_percent.value_or(0), b.bits_per_weight);
}

}  // namespace

std::string dataset_label(const std::string& spec) {
  const std::string prefix = "tokens:";
  const std::string path = spec.rfind(prefix, 0) == 0 ? spec.substr(prefix.size()) : spec;
  const bool file = path.find('/') != std::string::npos || fs::path(path).has_extension();
  return file ? fs::path(path).stem().string() : path;
}

std::vector<RunRow> read_run_reports(const std::vector<std::string>& paths) {
  const std::vector<std::string> files = report_files(paths);
  PTQ_CHECK_INPUT(!files.empty(), "no report (*.json) found in the given paths");
  std::vector<RunRow> rows;
  std::vector<std::pair<json, std::string>> evals;  // after every quantize row exists
  for (const std::string& file : files) {
    const json report = io::read_json_file(file);
    const std::string name = fs::path(file).filename().string();
    if (is_quantize_report(report)) {
      rows.push_back(quantize_row(report, file));
      rows.back().reports.push_back(name);
    } else {
      PTQ_CHECK_INPUT(is_eval_report(report), file,
                      ": not a report of ptq quantize (\"settings\", \"storage\") or ptq eval "
                      "(\"config\" and \"perplexity\", \"tasks\" or \"kl_divergence\")");
      evals.emplace_back(report, file);
    }
  }
  for (const auto& [report, file] : evals) {
    const std::string model = path_key(value_at<std::string>(report, "config.model", file));
    auto row = std::find_if(rows.begin(), rows.end(),
                            [&](const RunRow& r) { return path_key(r.model) == model; });
    if (row == rows.end()) {
      rows.push_back(checkpoint_row(report, file));
      row = rows.end() - 1;
    }
    add_eval(*row, report, file);
    row->reports.push_back(fs::path(file).filename().string());
  }
  std::stable_sort(rows.begin(), rows.end(), row_order);
  return rows;
}

std::vector<std::string> datasets_of(const std::vector<RunRow>& rows) {
  return keys_of(rows, &RunRow::perplexity);
}

std::vector<std::string> task_metrics_of(const std::vector<RunRow>& rows) {
  return keys_of(rows, &RunRow::task_metrics);
}

std::vector<std::string> kl_datasets_of(const std::vector<RunRow>& rows) {
  return keys_of(rows, &RunRow::mean_kld);
}

}  // namespace ptq::report
