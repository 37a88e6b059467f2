// Layers loaded for their pass only (ptq/model/streamed_layer.h), and weights kept at their
// stored width (LoadOptions::keep_stored_dtype): the logits are exactly those of the model
// held in fp32, and the layers the model did not hold are dropped again.

#include "ptq/model/streamed_layer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/random_llama.h"
#include "ptq/model/causal_lm.h"
#include "test_utils.h"

namespace ptq::model {
namespace {

const test::LlamaShape kShape{/*hidden=*/64, /*intermediate=*/128, /*layers=*/3, /*vocab=*/96,
                              /*heads=*/4};

class StreamedLayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    at::manual_seed(3);
    test::write_random_llama(_tmp.path(), kShape, "", at::kBFloat16);
    _ids = at::randint(kShape.vocab, {2, 12}, at::kLong);
    _in_memory = load_causal_lm(_tmp.path().string());
  }

  void expect_streams(CausalLM& lm) {
    KVCache cache;
    EXPECT_TRUE(at::equal(forward_streamed(lm, _ids.narrow(1, 0, 8), &cache),
                          _in_memory->forward(_ids.narrow(1, 0, 8))));
    // Decoding continues from the cache the streamed layers filled.
    KVCache reference;
    _in_memory->forward(_ids.narrow(1, 0, 8), &reference);
    EXPECT_TRUE(at::equal(forward_streamed(lm, _ids.narrow(1, 8, 4), &cache),
                          _in_memory->forward(_ids.narrow(1, 8, 4), &reference)));
    for (int64_t i = 0; i < kShape.layers; ++i) EXPECT_FALSE(lm.layer_loaded(i)) << i;
  }

  test::TempDir _tmp;
  at::Tensor _ids;
  std::unique_ptr<CausalLM> _in_memory;
};

TEST_F(StreamedLayerTest, LazyModelStreamsToTheInMemoryLogits) {
  const auto lm = load_causal_lm(_tmp.path().string(), {/*lazy_layers=*/true});
  expect_streams(*lm);
}

TEST_F(StreamedLayerTest, StoredDtypeModelUpcastsToTheInMemoryWeights) {
  LoadOptions options;
  options.keep_stored_dtype = true;
  const auto lm = load_causal_lm(_tmp.path().string(), options);
  for (int64_t i = 0; i < kShape.layers; ++i) EXPECT_FALSE(lm->layer_loaded(i)) << i;
  lm->load_layer(1);
  for (const std::string& name : lm->layer_weight_names(1)) {
    EXPECT_EQ(lm->weight(name).scalar_type(), at::kFloat) << name;
    EXPECT_TRUE(at::equal(lm->weight(name), _in_memory->weight(name))) << name;
  }
  lm->unload_layer(1);
  expect_streams(*lm);
}

TEST_F(StreamedLayerTest, LoadedLayerStaysLoaded) {
  { const StreamedLayer layer(*_in_memory, 0); }
  EXPECT_TRUE(_in_memory->layer_loaded(0));
}

}  // namespace
}  // namespace ptq::model
