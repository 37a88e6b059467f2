#pragma once
// Running a model whose decoder layers are not all in memory (load_causal_lm with
// LoadOptions::lazy_layers): a layer that is not loaded is read for its pass and dropped after
// it, so the model holds one decoder layer at a time; a loaded layer is used as it is.
//
//   auto lm = ptq::model::load_causal_lm(dir, {/*lazy_layers=*/true});
//   at::Tensor logits = ptq::model::forward_streamed(*lm, ids, &cache);
//
//   for (int64_t i = 0; i < lm->num_layers(); ++i) {  // many inputs through layer i, then i + 1
//     ptq::model::StreamedLayer layer(*lm, i);
//     for (at::Tensor& h : hidden) h = lm->forward_layer(i, h, 0, nullptr, nullptr);
//   }

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "ptq/model/causal_lm.h"

namespace ptq::model {

// Layer `index` of `lm` loaded while the object lives: read on construction when it was not
// loaded, and unloaded again on destruction then.
class StreamedLayer {
 public:
  StreamedLayer(CausalLM& lm, int64_t index)
      : _lm(lm), _index(index), _streamed(!lm.layer_loaded(index)) {
    if (_streamed) _lm.load_layer(_index);
  }
  ~StreamedLayer() {
    if (_streamed) _lm.unload_layer(_index);
  }
  StreamedLayer(const StreamedLayer&) = delete;
  StreamedLayer& operator=(const StreamedLayer&) = delete;

 private:
  CausalLM& _lm;
  int64_t _index;
  bool _streamed;
};

// CausalLM::forward with every layer inside a StreamedLayer.
inline at::Tensor forward_streamed(CausalLM& lm, const at::Tensor& ids, KVCache* cache = nullptr) {
  const int64_t offset = cache ? cache->length() : 0;  // before layer 0 extends the cache
  at::Tensor hidden = lm.embed(ids, offset);
  for (int64_t i = 0; i < lm.num_layers(); ++i) {
    const StreamedLayer layer(lm, i);
    hidden = lm.forward_layer(i, hidden, offset, cache, nullptr);
  }
  return lm.logits(hidden);
}

}  // namespace ptq::model
