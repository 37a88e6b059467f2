// KL divergence in two runs: the base model's distributions written to a file
// (ptq/eval/logits_file.h), then a quantized model compared with them, each run streaming its
// one model through for_each_batch_logits (ptq/eval/perplexity.h).

#include <ATen/ATen.h>

#include <chrono>
#include <cmath>

#include "kl_predictions.h"
#include "ptq/common/error.h"
#include "ptq/common/logging.h"
#include "ptq/common/progress.h"
#include "ptq/common/timing.h"
#include "ptq/eval/kl_divergence.h"
#include "ptq/eval/logits_file.h"
#include "ptq/eval/perplexity.h"

namespace ptq::eval {
namespace {

// The header this run's rows and model call for.
LogitsFileHeader run_header(const model::CausalLM& lm,
                            const at::Tensor& segments,
                            const std::string& dataset) {
  LogitsFileHeader header;
  header.dataset = dataset;
  header.segments = segments.size(0);
  header.seqlen = segments.size(1);
  header.vocab = lm.config().vocab_size;
  header.token_hash = token_hash(segments);
  return header;
}

int64_t chosen_top_k(int64_t requested, int64_t vocab) {
  if (requested < 0) return vocab <= kFullVocabularyLimit ? 0 : std::min(kDefaultTopK, vocab);
  PTQ_CHECK_INPUT(requested <= vocab, "--top-k ", requested, " exceeds the model's vocabulary of ",
                  vocab);
  return requested;
}

}  // namespace

SavedLogits save_base_log_probs(model::CausalLM& base,
                                const data::TokenRows& rows,
                                const std::string& dataset,
                                const std::string& path,
                                int64_t top_k,
                                const KlOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const at::Tensor segments = row_segments(rows, options.max_segments);
  LogitsFileHeader header = run_header(base, segments, dataset);
  header.top_k = chosen_top_k(top_k, header.vocab);
  LogitsFileWriter out(path, header);
  double nll = 0.0;
  Progress progress("save-logits", segments.size(0));
  for_each_batch_logits(
      {&base}, segments, kl_forward_options(options),
      [&](const std::vector<at::Tensor>& logits, int64_t first) {
        for (int64_t i = 0; i < logits[0].size(0); ++i) {
          const at::Tensor log_p = prediction_logits(logits[0], i).log_softmax(-1);
          const at::Tensor targets = prediction_targets(segments, first + i);
          nll -= log_p.gather(-1, targets.unsqueeze(-1)).to(at::kDouble).sum().item<double>();
          if (header.top_k == 0) {
            out.write_full(log_p);
          } else {
            out.write_top_k(top_k_log_probs(log_p, targets, header.top_k));
          }
        }
        progress.advance(logits[0].size(0), "");
      });
  out.commit();
  SavedLogits saved;
  saved.predictions = header.predictions();
  saved.top_k = header.top_k;
  saved.perplexity = std::exp(nll / static_cast<double>(saved.predictions));
  saved.seconds = seconds_since(start);
  return saved;
}

KlResult evaluate_kl_divergence_from_file(model::CausalLM& model,
                                          const data::TokenRows& rows,
                                          const std::string& dataset,
                                          const std::string& path,
                                          const KlOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const at::Tensor segments = row_segments(rows, options.max_segments);
  LogitsFileReader in(path);
  in.check_matches(run_header(model, segments, dataset));
  const int64_t top_k = in.header().top_k;
  KlAccumulator accumulator;
  Progress progress("kl-divergence", segments.size(0));
  for_each_batch_logits({&model}, segments, kl_forward_options(options),
                        [&](const std::vector<at::Tensor>& logits, int64_t first) {
                          for (int64_t i = 0; i < logits[0].size(0); ++i) {
                            const at::Tensor log_p =
                                prediction_logits(logits[0], i).log_softmax(-1);
                            const at::Tensor targets = prediction_targets(segments, first + i);
                            const int64_t n = log_p.size(0);
                            if (top_k == 0) {
                              accumulator.add_log_probs(in.read_full(n), log_p, targets);
                            } else {
                              accumulator.add_top_k(in.read_top_k(n), log_p, targets);
                            }
                          }
                          progress.advance(logits[0].size(0), "");
                        });
  KlResult result = accumulator.result();
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace ptq::eval
