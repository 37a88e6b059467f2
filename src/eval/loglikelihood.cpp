#include "loglikelihood.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>

#include "ptq/common/error.h"

namespace ptq::eval {
namespace {

// lm-eval's HFLM._DEFAULT_MAX_LENGTH, for configs without a position limit.
constexpr int64_t kDefaultMaxLength = 2048;

at::Tensor id_tensor(const std::vector<int32_t>& ids) {
  std::vector<int64_t> wide(ids.begin(), ids.end());
  return at::tensor(wide, at::kLong).unsqueeze(0);
}

// Hidden states after the last layer, [B, T, D]; logits are taken only where they are scored
// (a full [B, T, vocab] would dwarf the rest for long contexts and large vocabularies).
at::Tensor final_hidden(const model::CausalLM& lm, const at::Tensor& ids, model::KVCache* cache) {
  const int64_t offset = cache ? cache->length() : 0;
  at::Tensor hidden = lm.embed(ids, offset);
  for (int64_t i = 0; i < lm.num_layers(); ++i) {
    hidden = lm.forward_layer(i, hidden, offset, cache, nullptr);
  }
  return hidden;
}

// The score of `targets` given the hidden states [n, D] of the positions predicting them.
Loglikelihood score_positions(const model::CausalLM& lm,
                              const at::Tensor& hidden,
                              const std::vector<int32_t>& targets) {
  const at::Tensor log_probs =
      lm.logits(hidden.unsqueeze(0)).squeeze(0).to(at::kFloat).log_softmax(-1);
  const at::Tensor target = id_tensor(targets).squeeze(0);
  Loglikelihood result;
  result.logprob = log_probs.gather(-1, target.unsqueeze(-1)).to(at::kDouble).sum().item<double>();
  result.greedy = log_probs.argmax(-1).equal(target);
  result.tokens = static_cast<int64_t>(targets.size());
  return result;
}

void check_request(const EncodedRequest& request, int64_t vocab, int64_t max_length) {
  const int64_t n = static_cast<int64_t>(request.continuation.size());
  PTQ_CHECK_INPUT(n <= max_length, "a continuation of ", n, " tokens exceeds the model's ",
                  max_length, " positions");
  for (const auto* ids : {&request.context, &request.continuation}) {
    for (int32_t id : *ids) {
      PTQ_CHECK_INPUT(id >= 0 && id < vocab, "token id ", id, " is outside the model's ", vocab,
                      "-entry vocabulary: the tokenizer does not belong to this model");
    }
  }
}

bool share_context(const std::vector<EncodedRequest>& requests, int64_t max_length) {
  if (requests.size() < 2) return false;
  for (const auto& r : requests) {
    if (r.context != requests.front().context) return false;
    if (static_cast<int64_t>(r.context.size() + r.continuation.size()) > max_length + 1) {
      return false;
    }
  }
  return true;
}

// The context once, then every continuation (but its last token, which is only predicted)
// against copies of the context's cache.
std::vector<Loglikelihood> score_shared_context(const model::CausalLM& lm,
                                                const std::vector<EncodedRequest>& requests) {
  const int64_t n = static_cast<int64_t>(requests.size());
  model::KVCache cache;
  const at::Tensor context_hidden = final_hidden(lm, id_tensor(requests.front().context), &cache);
  const at::Tensor last = context_hidden.select(1, -1);  // [1, D], predicts continuation[0]
  int64_t width = 0;
  for (const auto& r : requests) {
    width = std::max<int64_t>(width, static_cast<int64_t>(r.continuation.size()) - 1);
  }
  at::Tensor cont_hidden;
  if (width > 0) {
    for (size_t layer = 0; layer < cache.keys.size(); ++layer) {
      cache.keys[layer] = cache.keys[layer].expand({n, -1, -1, -1}).contiguous();
      cache.values[layer] = cache.values[layer].expand({n, -1, -1, -1}).contiguous();
    }
    at::Tensor ids = at::zeros({n, width}, at::kLong);
    for (int64_t i = 0; i < n; ++i) {
      const auto& cont = requests[i].continuation;
      for (size_t j = 0; j + 1 < cont.size(); ++j) ids[i][static_cast<int64_t>(j)] = cont[j];
    }
    cont_hidden = final_hidden(lm, ids, &cache);
  }
  std::vector<Loglikelihood> scores;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t m = static_cast<int64_t>(requests[i].continuation.size());
    at::Tensor hidden = last;
    if (m > 1) hidden = at::cat({last, cont_hidden[i].narrow(0, 0, m - 1)}, 0);
    scores.push_back(score_positions(lm, hidden, requests[i].continuation));
  }
  return scores;
}

// Each request's window (context + continuation)[-(max_length + 1):][:-1], right-padded into
// one batch.
std::vector<Loglikelihood> score_padded(const model::CausalLM& lm,
                                        const std::vector<EncodedRequest>& requests,
                                        int64_t max_length) {
  const int64_t n = static_cast<int64_t>(requests.size());
  std::vector<std::vector<int32_t>> inputs;
  int64_t width = 0;
  for (const auto& r : requests) {
    std::vector<int32_t> whole = r.context;
    whole.insert(whole.end(), r.continuation.begin(), r.continuation.end());
    const size_t keep = std::min<size_t>(whole.size(), static_cast<size_t>(max_length + 1));
    std::vector<int32_t> input(whole.end() - static_cast<std::ptrdiff_t>(keep), whole.end() - 1);
    width = std::max<int64_t>(width, static_cast<int64_t>(input.size()));
    inputs.push_back(std::move(input));
  }
  at::Tensor ids = at::zeros({n, width}, at::kLong);
  for (int64_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < inputs[i].size(); ++j) ids[i][static_cast<int64_t>(j)] = inputs[i][j];
  }
  const at::Tensor hidden = final_hidden(lm, ids, nullptr);
  std::vector<Loglikelihood> scores;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t len = static_cast<int64_t>(inputs[i].size());
    const int64_t m = static_cast<int64_t>(requests[i].continuation.size());
    scores.push_back(
        score_positions(lm, hidden[i].narrow(0, len - m, m), requests[i].continuation));
  }
  return scores;
}

}  // namespace

int64_t max_request_length(const model::ModelConfig& config) {
  return config.max_position_embeddings > 0 ? config.max_position_embeddings : kDefaultMaxLength;
}

std::vector<Loglikelihood> score_requests(const model::CausalLM& lm,
                                          const std::vector<EncodedRequest>& requests,
                                          int64_t max_length) {
  c10::InferenceMode inference;
  for (const auto& r : requests) check_request(r, lm.config().vocab_size, max_length);
  if (share_context(requests, max_length)) return score_shared_context(lm, requests);
  return score_padded(lm, requests, max_length);
}

}  // namespace ptq::eval
