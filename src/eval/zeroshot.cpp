#include "ptq/eval/zeroshot.h"

#include <chrono>

#include "loglikelihood.h"
#include "ptq/common/logging.h"
#include "ptq/common/progress.h"
#include "ptq/data/dataset.h"
#include "zeroshot_metrics.h"
#include "zeroshot_tasks.h"

namespace ptq::eval {

std::vector<std::string> zeroshot_task_names() { return task_names(); }

TaskResult evaluate_task(const model::CausalLM& lm,
                         const tokenizer::Tokenizer& tokenizer,
                         const std::string& task,
                         const ZeroShotOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const TaskSpec spec = task_spec(task);
  const std::string dir =
      options.task_dir.empty() ? data::shared_data_dir() + "/zeroshot" : options.task_dir;
  const std::vector<TaskDoc> docs = read_task_docs(task, dir, options.limit);
  const int64_t max_length = max_request_length(lm.config());

  TaskResult result;
  result.task = task;
  result.examples = static_cast<int64_t>(docs.size());
  Progress progress(task, result.examples);
  int64_t correct = 0;
  for (const auto& doc : docs) {
    std::vector<EncodedRequest> encoded;
    for (const auto& request : doc.requests) encoded.push_back(encode_pair(tokenizer, request));
    ExampleScore score;
    score.requests = score_requests(lm, encoded, max_length);
    score.gold = doc.gold;
    result.scores.push_back(std::move(score));
    const auto metrics = task_metrics(spec, {doc}, {result.scores.back()});
    correct += metrics.at("acc") > 0.5 ? 1 : 0;
    progress.advance(1, fmt::format("acc {}/{}", correct, result.scores.size()));
  }
  result.metrics = task_metrics(spec, docs, result.scores);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace ptq::eval
