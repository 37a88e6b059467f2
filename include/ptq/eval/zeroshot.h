#pragma once
// Zero-shot task accuracy scored as EleutherAI's lm-evaluation-harness scores it
// (docs/zeroshot.md states the rules): every example becomes loglikelihood requests
// (context, continuation), each scored as the sum of the continuation tokens' log-probs, and
// the task's metrics are taken over the examples.
//
//   auto lm = ptq::model::load_causal_lm(dir);
//   auto tok = ptq::tokenizer::load_tokenizer(dir);
//   ptq::eval::ZeroShotOptions options;
//   options.limit = 100;  // the first 100 examples
//   ptq::eval::TaskResult piqa = ptq::eval::evaluate_task(*lm, *tok, "piqa", options);
//   double acc = piqa.metrics.at("acc");
//
// Tasks: lambada_openai (acc = the target is the greedy continuation, and perplexity), piqa
// (acc, acc_norm), winogrande (acc, partial scoring), boolq (acc), and, from their original
// files, arc_easy, arc_challenge and hellaswag (acc, acc_norm). Each metric m has its
// standard error as m_stderr.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ptq/model/causal_lm.h"
#include "ptq/tokenizer/tokenizer.h"

namespace ptq::eval {

struct ZeroShotOptions {
  std::string task_dir;  // holds <task>/<files>; empty: the shared data's zeroshot/
  int64_t limit = 0;     // the first N examples of each task; 0 = all
};

// One loglikelihood request's score.
struct Loglikelihood {
  double logprob = 0.0;  // sum over the continuation tokens of log p(token | preceding)
  bool greedy = false;   // every continuation token is the argmax of its distribution
  int64_t tokens = 0;    // continuation tokens
};

struct ExampleScore {
  std::vector<Loglikelihood> requests;  // in the task's choice order
  int64_t gold = 0;                     // index of the correct choice (0 for lambada)
};

struct TaskResult {
  std::string task;
  int64_t examples = 0;
  std::map<std::string, double> metrics;  // "acc", "acc_stderr", ...
  std::vector<ExampleScore> scores;       // per example
  double seconds = 0.0;
};

// The task names evaluate_task accepts, sorted.
std::vector<std::string> zeroshot_task_names();

// Throws InputError for an unknown task (listing the known ones), a missing or malformed data
// file (naming it and the line), or a request whose tokens fall outside the model's vocabulary.
TaskResult evaluate_task(const model::CausalLM& lm,
                         const tokenizer::Tokenizer& tokenizer,
                         const std::string& task,
                         const ZeroShotOptions& options);

}  // namespace ptq::eval
