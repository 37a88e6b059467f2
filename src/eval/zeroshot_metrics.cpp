#include "zeroshot_metrics.h"

#include <cmath>
#include <limits>
#include <numeric>

namespace ptq::eval {
namespace {

double mean(const std::vector<double>& values) {
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

// numpy.argmax: the first index of the maximum.
size_t first_argmax(const std::vector<double>& values) {
  size_t best = 0;
  for (size_t i = 1; i < values.size(); ++i) {
    if (values[i] > values[best]) best = i;
  }
  return best;
}

void add_mean(std::map<std::string, double>& metrics,
              const std::string& name,
              const std::vector<double>& values) {
  metrics[name] = mean(values);
  metrics[name + "_stderr"] = mean_stderr(values);
}

}  // namespace

double mean_stderr(const std::vector<double>& values) {
  const auto n = static_cast<double>(values.size());
  if (values.size() < 2) return std::numeric_limits<double>::quiet_NaN();
  const double mu = mean(values);
  double squares = 0.0;
  for (double v : values) squares += (v - mu) * (v - mu);
  return std::sqrt(squares / (n - 1.0) / n);
}

std::map<std::string, double> task_metrics(const TaskSpec& spec,
                                           const std::vector<TaskDoc>& docs,
                                           const std::vector<ExampleScore>& scores) {
  std::map<std::string, double> metrics;
  std::vector<double> acc, acc_norm, logliks;
  for (size_t e = 0; e < scores.size(); ++e) {
    const auto& requests = scores[e].requests;
    if (spec.kind == TaskKind::Loglikelihood) {
      acc.push_back(requests.front().greedy ? 1.0 : 0.0);
      logliks.push_back(requests.front().logprob);
      continue;
    }
    std::vector<double> ll, normalized;
    for (size_t i = 0; i < requests.size(); ++i) {
      ll.push_back(requests[i].logprob);
      normalized.push_back(requests[i].logprob /
                           static_cast<double>(count_characters(docs[e].choices[i])));
    }
    const auto gold = static_cast<size_t>(scores[e].gold);
    acc.push_back(first_argmax(ll) == gold ? 1.0 : 0.0);
    acc_norm.push_back(first_argmax(normalized) == gold ? 1.0 : 0.0);
  }
  add_mean(metrics, "acc", acc);
  if (spec.acc_norm) add_mean(metrics, "acc_norm", acc_norm);
  if (spec.kind == TaskKind::Loglikelihood) {
    const double perplexity = std::exp(-mean(logliks));
    metrics["perplexity"] = perplexity;
    metrics["perplexity_stderr"] = perplexity * mean_stderr(logliks);
  }
  return metrics;
}

}  // namespace ptq::eval
