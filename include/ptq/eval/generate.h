#pragma once
// Autoregressive decoding with the model's KV cache: the prompt is run once, then one token
// per step. Layers the model does not hold (LoadOptions::lazy_layers or keep_stored_dtype)
// are loaded for their pass in every step and dropped after it.
//
//   ptq::eval::GenerateOptions options;
//   options.max_new_tokens = 64;
//   options.temperature = 0.8;  // 0 = greedy (argmax)
//   std::vector<int32_t> ids = ptq::eval::generate(*lm, {1}, options);  // prompt + new ids

#include <cstdint>
#include <optional>
#include <vector>

#include "ptq/model/causal_lm.h"

namespace ptq::eval {

struct GenerateOptions {
  int64_t max_new_tokens = 128;
  // 0 picks the most likely token; T > 0 samples from softmax(logits / T).
  double temperature = 0.0;
  // Sampling is a pure function of (model, prompt, options): the same seed gives the same ids.
  uint64_t seed = 0;
  // Generation stops after emitting this id (kept in the output) when set.
  std::optional<int64_t> eos_id;
};

// Returns the prompt followed by the generated ids. Throws InputError for an empty prompt,
// an id outside the vocabulary, a negative temperature or max_new_tokens, or a total length
// beyond the model's max_position_embeddings.
std::vector<int32_t> generate(model::CausalLM& lm,
                              const std::vector<int32_t>& prompt,
                              const GenerateOptions& options);

}  // namespace ptq::eval
