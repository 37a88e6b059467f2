// Perplexity of a streamed model (layers loaded one at a time, all segments through a layer
// before the next) is bit-identical to that of the same model held in memory, however many
// segments each pass over the layers holds; a budget below one segment throws MemoryError.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "model/random_llama.h"
#include "ptq/common/error.h"
#include "ptq/data/dataset.h"
#include "ptq/eval/perplexity.h"
#include "ptq/model/causal_lm.h"
#include "test_utils.h"

namespace ptq::eval {
namespace {

constexpr int64_t kRows = 5;
constexpr int64_t kRowLen = 32;

const test::LlamaShape kShape{/*hidden=*/64, /*intermediate=*/128, /*layers=*/3, /*vocab=*/96,
                              /*heads=*/4};

data::TokenRows random_rows() {
  data::TokenRows rows;
  rows.rows = kRows;
  rows.row_len = kRowLen;
  const at::Tensor ids = at::randint(kShape.vocab, {kRows * kRowLen}, at::kInt);
  rows.ids.assign(ids.data_ptr<int32_t>(), ids.data_ptr<int32_t>() + ids.numel());
  return rows;
}

PerplexityOptions batches_of(int64_t batch, int64_t budget_bytes) {
  PerplexityOptions options;
  options.batch_size = batch;
  options.resident_budget_bytes = budget_bytes;
  return options;
}

class StreamedPerplexity : public ::testing::Test {
 protected:
  void SetUp() override {
    at::manual_seed(7);
    test::write_random_llama(_tmp.path(), kShape, "", at::kBFloat16);
    _rows = random_rows();
    _in_memory = model::load_causal_lm(_tmp.path().string());
    _streamed = model::load_causal_lm(_tmp.path().string(), {/*lazy_layers=*/true});
  }

  void expect_identical(const PerplexityOptions& options) {
    const PerplexityResult expected = evaluate_rows(*_in_memory, _rows, options);
    const PerplexityResult streamed = evaluate_rows(*_streamed, _rows, options);
    EXPECT_EQ(streamed.mean_nll, expected.mean_nll);
    EXPECT_EQ(streamed.perplexity, expected.perplexity);
    EXPECT_EQ(streamed.segments, kRows);
    for (int64_t i = 0; i < kShape.layers; ++i) {
      EXPECT_FALSE(_streamed->layer_loaded(i)) << "layer " << i << " was left loaded";
      EXPECT_TRUE(_in_memory->layer_loaded(i)) << "layer " << i << " was unloaded";
    }
  }

  test::TempDir _tmp;
  data::TokenRows _rows;
  std::unique_ptr<model::CausalLM> _in_memory;
  std::unique_ptr<model::CausalLM> _streamed;
};

TEST_F(StreamedPerplexity, AllSegmentsInOnePassMatchInMemory) {
  expect_identical(batches_of(/*batch=*/2, /*budget_bytes=*/0));
}

TEST_F(StreamedPerplexity, OneSegmentPerPassAtTheMinimumBudgetMatchesInMemory) {
  const StreamedMemory need = streamed_memory(_streamed->config(), kRowLen);
  // Five passes over the layers, one segment each.
  expect_identical(batches_of(/*batch=*/1, need.minimum()));
}

TEST_F(StreamedPerplexity, BudgetBelowOneSegmentThrowsMemoryError) {
  const StreamedMemory need = streamed_memory(_streamed->config(), kRowLen);
  // The weights it counts: the fp32 non-layer tensors and one layer, by the LLaMA table.
  EXPECT_EQ(need.weight_bytes, test::fp32_bytes(test::llama_global_tensors(kShape)) +
                                   test::fp32_bytes(test::llama_layer_tensors(kShape, 0)));
  EXPECT_EQ(need.hidden_bytes, kRowLen * kShape.hidden * 4);
  EXPECT_THROW(evaluate_rows(*_streamed, _rows, batches_of(1, need.minimum() - 1)), MemoryError);
}

}  // namespace
}  // namespace ptq::eval
