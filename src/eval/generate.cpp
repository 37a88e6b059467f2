#include "ptq/eval/generate.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <random>

#include "ptq/common/error.h"
#include "ptq/model/streamed_layer.h"

namespace ptq::eval {
namespace {

void check_request(const model::CausalLM& lm,
                   const std::vector<int32_t>& prompt,
                   const GenerateOptions& options) {
  PTQ_CHECK_INPUT(!prompt.empty(), "the prompt is empty: give at least one token (e.g. BOS)");
  PTQ_CHECK_INPUT(options.temperature >= 0.0, "temperature must be >= 0, got ",
                  options.temperature);
  PTQ_CHECK_INPUT(options.max_new_tokens >= 0, "max new tokens must be >= 0, got ",
                  options.max_new_tokens);
  const int64_t vocab = lm.config().vocab_size;
  for (const int32_t id : prompt) {
    PTQ_CHECK_INPUT(id >= 0 && id < vocab, "prompt id ", id, " is outside the model's ", vocab,
                    "-entry vocabulary");
  }
  const int64_t positions = lm.config().max_position_embeddings;
  const int64_t length = static_cast<int64_t>(prompt.size()) + options.max_new_tokens;
  PTQ_CHECK_INPUT(positions <= 0 || length <= positions, "prompt (", prompt.size(), ") + ",
                  options.max_new_tokens, " new tokens exceed the model's ", positions,
                  " positions");
}

// Inverse-CDF sampling with the generator's raw 64-bit output, so that the ids depend on the
// seed alone, not on a standard library's distribution code or LibTorch's generator.
int64_t sample(const at::Tensor& logits, double temperature, std::mt19937_64& rng) {
  const at::Tensor probs = (logits.to(at::kDouble) / temperature).softmax(-1).contiguous();
  const double* p = probs.data_ptr<double>();
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;  // uniform in [0, 1)
  double cumulative = 0.0;
  int64_t last_possible = 0;
  for (int64_t i = 0; i < probs.numel(); ++i) {
    if (p[i] == 0.0) continue;
    cumulative += p[i];
    last_possible = i;
    if (u < cumulative) return i;
  }
  return last_possible;  // rounding left the total just below u
}

int64_t next_token(const at::Tensor& logits, const GenerateOptions& options, std::mt19937_64& rng) {
  if (options.temperature == 0.0) return logits.argmax().item<int64_t>();
  return sample(logits, options.temperature, rng);
}

}  // namespace

std::vector<int32_t> generate(model::CausalLM& lm,
                              const std::vector<int32_t>& prompt,
                              const GenerateOptions& options) {
  check_request(lm, prompt, options);
  c10::InferenceMode inference;
  std::mt19937_64 rng(options.seed);
  model::KVCache cache;
  std::vector<int32_t> ids = prompt;
  at::Tensor input = at::tensor(std::vector<int64_t>(prompt.begin(), prompt.end())).view({1, -1});
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    const at::Tensor last_logits =
        model::forward_streamed(lm, input, &cache).select(0, 0).select(0, -1);
    const int64_t next = next_token(last_logits, options, rng);
    ids.push_back(static_cast<int32_t>(next));
    if (options.eos_id && next == *options.eos_id) break;
    input = at::full({1, 1}, next, at::TensorOptions(at::kLong));
  }
  return ids;
}

}  // namespace ptq::eval
