#include "ptq/eval/perplexity.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "ptq/common/error.h"
#include "ptq/common/logging.h"
#include "ptq/common/memory.h"
#include "ptq/common/progress.h"
#include "ptq/common/timing.h"
#include "ptq/model/architecture.h"
#include "ptq/model/streamed_layer.h"
#include "ptq/model/tensor_table.h"

namespace ptq::eval {
namespace {

using Clock = std::chrono::steady_clock;

// int32 ids -> [segments, seqlen] int64, the index type embedding lookups take.
at::Tensor segment_tensor(const std::vector<int32_t>& ids, int64_t segments, int64_t seqlen) {
  // from_blob only views the caller's ids; the int64 conversion copies them.
  const at::Tensor flat = at::from_blob(const_cast<int32_t*>(ids.data()), {segments * seqlen},
                                        at::TensorOptions(at::kInt));
  return flat.view({segments, seqlen}).to(at::kLong);
}

int64_t clip_segments(int64_t available, int64_t max_segments) {
  PTQ_CHECK_INPUT(max_segments >= 0, "--max-segments must be >= 0, got ", max_segments);
  return max_segments > 0 ? std::min(available, max_segments) : available;
}

void check_vocabulary(const model::CausalLM& lm, const at::Tensor& segments) {
  const int64_t vocab = lm.config().vocab_size;
  const int64_t low = segments.min().item<int64_t>();
  const int64_t high = segments.max().item<int64_t>();
  PTQ_CHECK_INPUT(low >= 0 && high < vocab, "token ids span [", low, ", ", high,
                  "] but the model's vocabulary has ", vocab,
                  " entries: the tokenizer or token file does not belong to this model");
}

// A rough upper bound on the activations one segment keeps alive at once: logits and their
// log-softmax, the widest MLP intermediates, and the attention scores and probabilities.
int64_t segment_bytes(const model::ModelConfig& config, int64_t seqlen) {
  const int64_t per_token =
      2 * config.vocab_size + 3 * config.intermediate_size + 4 * config.hidden_size;
  const int64_t attention = 2 * config.num_heads * seqlen * seqlen;
  return static_cast<int64_t>(sizeof(float)) * (seqlen * per_token + attention);
}

int64_t batch_size(const model::CausalLM& lm,
                   int64_t segments,
                   int64_t seqlen,
                   const PerplexityOptions& options) {
  PTQ_CHECK_INPUT(options.batch_size >= 0, "batch size must be >= 0, got ", options.batch_size);
  if (options.batch_size > 0) return std::min(options.batch_size, segments);
  const int64_t budget = options.memory_budget_mb << 20;
  return std::clamp<int64_t>(budget / segment_bytes(lm.config(), seqlen), 1, segments);
}

// Sum over the batch of -log p(ids[t+1] | ids[..t]) from its logits. log_softmax runs in fp32
// whatever the model's logits are; the sum is taken in double so that millions of terms lose
// nothing. The last position's row is normalised too: on the contiguous logits log_softmax
// runs ~1.7x faster than on a narrowed view, which it would first copy when the batch has
// several rows.
double batch_nll_sum(const at::Tensor& logits, const at::Tensor& batch) {
  const int64_t predictions = batch.size(1) - 1;
  const at::Tensor log_probs = logits.to(at::kFloat).log_softmax(-1).narrow(1, 0, predictions);
  const at::Tensor targets = batch.narrow(1, 1, predictions).unsqueeze(-1);
  return -log_probs.gather(-1, targets).to(at::kDouble).sum().item<double>();
}

std::string running_perplexity(double nll_sum, int64_t done, int64_t seqlen) {
  return fmt::format("running ppl {:.4f}",
                     std::exp(nll_sum / static_cast<double>(done * (seqlen - 1))));
}

bool is_streamed(const model::CausalLM& lm) {
  for (int64_t i = 0; i < lm.num_layers(); ++i) {
    if (!lm.layer_loaded(i)) return true;
  }
  return false;
}

int64_t fp32_bytes(const std::vector<model::TensorSpec>& specs) {
  int64_t bytes = 0;
  for (const model::TensorSpec& spec : specs) {
    int64_t numel = 1;
    for (const int64_t dim : spec.shape) numel *= dim;
    bytes += numel * static_cast<int64_t>(sizeof(float));
  }
  return bytes;
}

// How the segments go through the model: in forward passes of `batch` segments, and `chunk`
// segments (a multiple of `batch`) through each layer before the next one is loaded.
struct Passes {
  int64_t batch = 1;
  int64_t chunk = 1;
};

Passes plan_passes(const model::CausalLM& lm,
                   int64_t total,
                   int64_t seqlen,
                   const PerplexityOptions& options) {
  const int64_t batch = batch_size(lm, total, seqlen, options);
  // An in-memory model is evaluated one forward pass at a time: nothing is gained by holding
  // the hidden states of more segments.
  if (!is_streamed(lm)) return {batch, batch};
  const int64_t budget = options.resident_budget_bytes;
  if (budget <= 0) return {batch, total};
  check_streamed_memory(lm.config(), seqlen, budget, "the resident budget");
  const StreamedMemory memory = streamed_memory(lm.config(), seqlen);
  const int64_t room = budget - memory.weight_bytes;
  const int64_t fitting = std::min(batch, room / (memory.hidden_bytes + memory.activation_bytes));
  if (fitting < batch) {
    spdlog::info("perplexity: {} segments per batch instead of {} to fit the memory budget",
                 fitting, batch);
  }
  const int64_t batches =
      (room - fitting * memory.activation_bytes) / (fitting * memory.hidden_bytes);
  return {fitting, std::min(total, fitting * batches)};
}

// The hidden states of `chunk`'s segments after the last layer, per batch of `batch`: every
// batch passes through layer i before layer i + 1 is loaded.
std::vector<at::Tensor> forward_layers(model::CausalLM& lm,
                                       const at::Tensor& chunk,
                                       int64_t batch) {
  std::vector<at::Tensor> hidden;
  for (int64_t begin = 0; begin < chunk.size(0); begin += batch) {
    hidden.push_back(lm.embed(chunk.narrow(0, begin, std::min(batch, chunk.size(0) - begin)), 0));
  }
  for (int64_t i = 0; i < lm.num_layers(); ++i) {
    const model::StreamedLayer layer(lm, i);
    for (at::Tensor& h : hidden) h = lm.forward_layer(i, h, 0, nullptr, nullptr);
  }
  return hidden;
}

// The passes every model can take, so that they stay in lockstep: the smallest batch, and
// the smallest chunk rounded down to whole batches. Each model gets an equal share of the
// resident budget.
Passes plan_shared_passes(const std::vector<model::CausalLM*>& models,
                          int64_t total,
                          int64_t seqlen,
                          const PerplexityOptions& options) {
  PerplexityOptions share = options;
  share.resident_budget_bytes = options.resident_budget_bytes / static_cast<int64_t>(models.size());
  Passes shared{total, total};
  for (model::CausalLM* lm : models) {
    const Passes passes = plan_passes(*lm, total, seqlen, share);
    shared.batch = std::min(shared.batch, passes.batch);
    shared.chunk = std::min(shared.chunk, passes.chunk);
  }
  shared.chunk = std::max(shared.batch, shared.chunk / shared.batch * shared.batch);
  return shared;
}

// The reference accumulates nll_i = mean_loss_i * seqlen and reports
// exp(sum_i nll_i / (segments * seqlen)); with every segment of the same length that is
// exactly the plain mean over all segments x (seqlen - 1) predictions computed here. The batch
// sums are added in segment order however many segments each pass holds.
PerplexityResult score_segments(model::CausalLM& lm,
                                const at::Tensor& segments,
                                const PerplexityOptions& options) {
  const auto start = Clock::now();
  const int64_t total = segments.size(0);
  const int64_t seqlen = segments.size(1);
  double nll_sum = 0.0;
  Progress progress("perplexity", total);
  for_each_batch_logits(
      {&lm}, segments, options, [&](const std::vector<at::Tensor>& logits, int64_t first) {
        const int64_t size = logits[0].size(0);
        const double nll = batch_nll_sum(logits[0], segments.narrow(0, first, size));
        PTQ_CHECK_INPUT(std::isfinite(nll), "the model's log-likelihood of segments ", first, "..",
                        first + size - 1, " is not finite: its activations overflow (NaN or Inf)");
        nll_sum += nll;
        progress.advance(size, running_perplexity(nll_sum, first + size, seqlen));
      });

  PerplexityResult result;
  result.mean_nll = nll_sum / static_cast<double>(total * (seqlen - 1));
  result.perplexity = std::exp(result.mean_nll);
  result.tokens = total * seqlen;
  result.segments = total;
  result.seqlen = seqlen;
  result.seconds = seconds_since(start);
  result.tokens_per_second = static_cast<double>(result.tokens) / result.seconds;
  return result;
}

}  // namespace

void for_each_batch_logits(const std::vector<model::CausalLM*>& models,
                           const at::Tensor& segments,
                           const PerplexityOptions& options,
                           const BatchLogitsVisitor& visit) {
  c10::InferenceMode inference;
  PTQ_CHECK_INPUT(!models.empty(), "no model to evaluate");
  const int64_t total = segments.size(0);
  const int64_t seqlen = segments.size(1);
  for (model::CausalLM* lm : models) check_vocabulary(*lm, segments);
  const Passes passes = plan_shared_passes(models, total, seqlen, options);
  const bool streamed = is_streamed(*models[0]);
  spdlog::info("{} segments of {} tokens, {} per batch{}", total, seqlen, passes.batch,
               streamed ? fmt::format(", {} per pass over the streamed layers", passes.chunk) : "");
  for (int64_t done = 0; done < total;) {
    const at::Tensor chunk = segments.narrow(0, done, std::min(passes.chunk, total - done));
    std::vector<std::vector<at::Tensor>> hidden;
    for (model::CausalLM* lm : models) hidden.push_back(forward_layers(*lm, chunk, passes.batch));
    for (size_t b = 0; b < hidden[0].size(); ++b) {
      std::vector<at::Tensor> logits;
      for (size_t m = 0; m < models.size(); ++m) {
        logits.push_back(models[m]->logits(hidden[m][b]));
        hidden[m][b] = at::Tensor();
      }
      const int64_t size = logits[0].size(0);
      visit(logits, done);
      done += size;
    }
  }
}

StreamedMemory streamed_memory(const model::ModelConfig& config, int64_t seqlen) {
  const model::FamilyTable& table = model::find_architecture(config.architecture).table();
  StreamedMemory memory;
  // Layer 0 stands for all: the layers of every supported family have the same shapes, and a
  // config's layer count is not to be trusted before the checkpoint confirms it.
  memory.weight_bytes = fp32_bytes(model::global_specs(table, config)) +
                        fp32_bytes(model::layer_specs(table, config, 0));
  memory.hidden_bytes = seqlen * config.hidden_size * static_cast<int64_t>(sizeof(float));
  memory.activation_bytes = segment_bytes(config, seqlen);
  return memory;
}

void check_streamed_memory(const model::ModelConfig& config,
                           int64_t seqlen,
                           int64_t budget_bytes,
                           const std::string& budget_source) {
  const StreamedMemory need = streamed_memory(config, seqlen);
  if (need.minimum() <= budget_bytes) return;
  throw MemoryError(fmt::format(
      "evaluating {} one layer at a time needs at least {:.1f} MiB (its non-layer weights and "
      "one decoder layer in fp32: {:.1f} MiB; one segment of {} tokens: hidden states {:.1f} "
      "MiB, activations {:.1f} MiB), but the memory budget is {:.1f} MiB ({})",
      config.architecture, mebibytes(need.minimum()), mebibytes(need.weight_bytes), seqlen,
      mebibytes(need.hidden_bytes), mebibytes(need.activation_bytes), mebibytes(budget_bytes),
      budget_source));
}

PerplexityResult evaluate_perplexity(model::CausalLM& lm,
                                     const std::vector<int32_t>& ids,
                                     const PerplexityOptions& options) {
  const int64_t n = static_cast<int64_t>(ids.size());
  PTQ_CHECK_INPUT(options.seqlen >= 2, "seqlen must be at least 2, got ", options.seqlen);
  PTQ_CHECK_INPUT(n >= options.seqlen, "seqlen ", options.seqlen, " is larger than the data set's ",
                  n, " tokens");
  const int64_t segments = clip_segments(n / options.seqlen, options.max_segments);
  return score_segments(lm, segment_tensor(ids, segments, options.seqlen), options);
}

at::Tensor row_segments(const data::TokenRows& rows, int64_t max_segments) {
  PTQ_CHECK_INPUT(rows.rows > 0, "the token set has no rows");
  PTQ_CHECK_INPUT(rows.row_len >= 2, "token rows must hold at least 2 tokens, got ", rows.row_len);
  PTQ_CHECK_INPUT(static_cast<int64_t>(rows.ids.size()) == rows.rows * rows.row_len,
                  "the token set holds ", rows.ids.size(), " ids, not ", rows.rows, " x ",
                  rows.row_len);
  return segment_tensor(rows.ids, clip_segments(rows.rows, max_segments), rows.row_len);
}

PerplexityResult evaluate_rows(model::CausalLM& lm,
                               const data::TokenRows& rows,
                               const PerplexityOptions& options) {
  return score_segments(lm, row_segments(rows, options.max_segments), options);
}

}  // namespace ptq::eval
