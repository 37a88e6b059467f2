#include "zeroshot_eval.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "ptq/common/error.h"
#include "ptq/common/report.h"
#include "ptq/eval/zeroshot.h"
#include "ptq/format/checkpoint_summary.h"
#include "ptq/format/quantized_checkpoint.h"
#include "ptq/model/causal_lm.h"
#include "ptq/tokenizer/tokenizer.h"

namespace ptq::cli {
namespace {

// "a,b" -> {"a", "b"}, each checked against the known tasks before anything is loaded.
std::vector<std::string> parse_tasks(const std::string& list) {
  std::vector<std::string> tasks;
  std::stringstream in(list);
  std::string name;
  const auto known = eval::zeroshot_task_names();
  while (std::getline(in, name, ',')) {
    if (name.empty()) continue;
    std::string names;
    for (const auto& k : known) names += (names.empty() ? "" : ", ") + k;
    PTQ_CHECK_INPUT(std::find(known.begin(), known.end(), name) != known.end(), "unknown task \"",
                    name, "\" in --tasks; known tasks: ", names);
    tasks.push_back(name);
  }
  PTQ_CHECK_INPUT(!tasks.empty(), "--tasks names no task");
  return tasks;
}

nlohmann::json task_json(const eval::TaskResult& result) {
  nlohmann::json metrics = nlohmann::json::object();
  for (const auto& [name, value] : result.metrics) metrics[name] = json_number(value);
  nlohmann::json examples = nlohmann::json::array();
  for (const auto& score : result.scores) {
    nlohmann::json logliks = nlohmann::json::array(), greedy = nlohmann::json::array();
    for (const auto& r : score.requests) {
      logliks.push_back(r.logprob);
      greedy.push_back(r.greedy);
    }
    examples.push_back({{"gold", score.gold}, {"loglikelihoods", logliks}, {"greedy", greedy}});
  }
  return {{"examples", result.examples},
          {"metrics", metrics},
          {"seconds", result.seconds},
          {"examples_per_second", static_cast<double>(result.examples) / result.seconds},
          {"per_example", examples}};
}

void print_result(const eval::TaskResult& result) {
  for (const auto& [name, value] : result.metrics) {
    if (name.size() > 7 && name.compare(name.size() - 7, 7, "_stderr") == 0) continue;
    const auto stderr_it = result.metrics.find(name + "_stderr");
    std::printf("%s %s %.6f stderr %.6f examples %lld\n", result.task.c_str(), name.c_str(), value,
                stderr_it->second, static_cast<long long>(result.examples));
  }
}

}  // namespace

int run_zeroshot_eval(const ZeroShotEvalOptions& options) {
  const std::vector<std::string> tasks = parse_tasks(options.tasks);
  if (!options.report.empty()) check_output_file(options.report, "--report");
  const auto lm = quant::load_model(options.model);
  const auto tokenizer =
      tokenizer::load_tokenizer(options.tokenizer.empty() ? options.model : options.tokenizer);
  eval::ZeroShotOptions zeroshot;
  zeroshot.task_dir = options.task_dir;
  zeroshot.limit = options.limit;
  nlohmann::json results = nlohmann::json::object();
  for (const auto& task : tasks) {
    const eval::TaskResult result = eval::evaluate_task(*lm, *tokenizer, task, zeroshot);
    print_result(result);
    results[task] = task_json(result);
  }
  if (!options.report.empty()) {
    write_json_file(options.report,
                    {{"tasks", results},
                     {"config",
                      {{"model", options.model},
                       {"tokenizer", options.tokenizer.empty() ? options.model : options.tokenizer},
                       {"task_dir", options.task_dir},
                       {"limit", options.limit},
                       {"threads", at::get_num_threads()}}},
                     {"checkpoint", quant::evaluated_checkpoint_json(options.model)},
                     {"versions", report_versions()}});
  }
  return kExitOk;
}

}  // namespace ptq::cli
