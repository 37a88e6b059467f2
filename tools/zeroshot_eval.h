#pragma once
// ptq eval --tasks: zero-shot task accuracy (ptq/eval/zeroshot.h) of a model, printed and
// written to the JSON report.

#include <cstdint>
#include <string>

namespace ptq::cli {

struct ZeroShotEvalOptions {
  std::string model;
  std::string tokenizer;  // empty: the model directory
  std::string tasks;      // comma-separated task names
  std::string task_dir;   // empty: the shared data's zeroshot/
  int64_t limit = 0;
  std::string report;
};

int run_zeroshot_eval(const ZeroShotEvalOptions& options);

}  // namespace ptq::cli
