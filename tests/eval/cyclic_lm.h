#pragma once
// A CausalLM whose next-token distribution is known in closed form, for hand-checkable
// perplexity and decoding tests: after token x it gives logit log(favored_weight) to
// (x + 1) % vocab and 0 to every other id, so
//   p(next = (x + 1) % vocab) = w / (w + vocab - 1),  p(any other id) = 1 / (w + vocab - 1).

#include <ATen/ATen.h>

#include <cmath>
#include <string>
#include <vector>

#include "ptq/model/causal_lm.h"

namespace ptq::test {

class CyclicLM : public model::CausalLM {
 public:
  CyclicLM(int64_t vocab, double favored_weight)
      : CausalLM(make_config(vocab)), _favored_logit(std::log(favored_weight)) {}

  // The hidden state is the token id itself, carried unchanged to the head.
  at::Tensor embed(const at::Tensor& ids, int64_t /*position_offset*/) const override {
    return ids.to(at::kFloat).unsqueeze(-1);
  }

  at::Tensor forward_layer(int64_t index,
                           const at::Tensor& hidden,
                           int64_t /*position_offset*/,
                           model::KVCache* cache,
                           const model::LinearInputObserver* /*observer*/) const override {
    if (cache != nullptr) append(*cache, index, hidden.unsqueeze(1));
    return hidden;
  }

  at::Tensor logits(const at::Tensor& hidden) const override {
    const at::Tensor next = (hidden.squeeze(-1).to(at::kLong) + 1) % _config.vocab_size;
    at::Tensor out = at::zeros({hidden.size(0), hidden.size(1), _config.vocab_size});
    return out.scatter_(-1, next.unsqueeze(-1), _favored_logit);
  }

  std::vector<model::LayerLinear> layer_linears(int64_t /*index*/) const override { return {}; }

 private:
  static model::ModelConfig make_config(int64_t vocab) {
    model::ModelConfig config;
    config.architecture = "CyclicForTests";
    config.vocab_size = vocab;
    config.hidden_size = 1;
    config.intermediate_size = 1;
    config.num_layers = 1;
    config.num_heads = 1;
    config.num_kv_heads = 1;
    config.head_dim = 1;
    config.max_position_embeddings = 4096;
    return config;
  }

  // Keeps the cache's length() meaningful: [B, 1, T, 1] per layer, grown along T.
  static void append(model::KVCache& cache, int64_t index, const at::Tensor& entry) {
    if (static_cast<int64_t>(cache.keys.size()) <= index) {
      cache.keys.resize(index + 1);
      cache.values.resize(index + 1);
    }
    for (auto* slot : {&cache.keys[index], &cache.values[index]}) {
      *slot = slot->defined() ? at::cat({*slot, entry}, 2) : entry;
    }
  }

  double _favored_logit;
};

}  // namespace ptq::test
