#pragma once
// The metrics lm-evaluation-harness aggregates from per-example scores
// (lm_eval/api/task.py process_results, lm_eval/api/metrics.py):
//   acc       mean over examples of [argmax_i ll_i == gold] (the first maximum wins, as
//             numpy.argmax); for a loglikelihood task, [the continuation is greedy]
//   acc_norm  mean of [argmax_i ll_i / chars(choice_i) == gold], chars = Python len()
//   perplexity  exp(-mean ll) over a loglikelihood task's examples
// with the standard error of a mean, sqrt(sample variance / n) (metrics.py mean_stderr, the
// n - 1 variance); lm-eval bootstraps perplexity's, here it is the delta method's
// perplexity x stderr(mean ll). A standard error over fewer than two examples is NaN.

#include <map>
#include <string>
#include <vector>

#include "ptq/eval/zeroshot.h"
#include "zeroshot_tasks.h"

namespace ptq::eval {

// sqrt(sum (x - mean)^2 / (n - 1) / n); NaN for n < 2.
double mean_stderr(const std::vector<double>& values);

std::map<std::string, double> task_metrics(const TaskSpec& spec,
                                           const std::vector<TaskDoc>& docs,
                                           const std::vector<ExampleScore>& scores);

}  // namespace ptq::eval
