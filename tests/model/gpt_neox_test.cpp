// GPT-NeoX against the Python reference.

#include <gtest/gtest.h>

#include "model/model_test_utils.h"
#include "ptq/model/causal_lm.h"

namespace ptq::model {
namespace {

using test::expect_matches_reference;

// Parallel residual, rotary_pct 0.25 (4 of 16 dims), fused per-head [q|k|v] projection,
// bf16, untied embed_out; the checkpoint also holds rotary_emb.inv_freq buffers to ignore.
TEST(GptNeoXTest, ParallelResidualMatchesReference) { expect_matches_reference("gpt_neox"); }

// use_parallel_residual false, rotary_pct 0.5, f16.
TEST(GptNeoXTest, SequentialResidualMatchesReference) {
  expect_matches_reference("gpt_neox_sequential");
}

}  // namespace
}  // namespace ptq::model
