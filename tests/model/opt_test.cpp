// OPT against the Python reference.

#include <gtest/gtest.h>

#include "model/model_test_utils.h"
#include "ptq/common/error.h"
#include "ptq/model/causal_lm.h"

namespace ptq::model {
namespace {

using test::expect_matches_reference;

// Pre-LN (do_layer_norm_before), ReLU, learned positions at offset 2, biases, f16.
TEST(OptTest, PreLayerNormMatchesReference) { expect_matches_reference("opt"); }

// word_embed_proj_dim 32 != hidden_size 48: project_in / project_out.
TEST(OptTest, ProjectedEmbeddingsMatchReference) { expect_matches_reference("opt_project"); }

// opt-350m style: post-LN, no final layer norm, with the projection.
TEST(OptTest, PostLayerNormMatchesReference) { expect_matches_reference("opt_post_ln"); }

TEST(OptTest, LayoutFollowsConfig) {
  const auto lm = load_causal_lm(test::fixture_model("opt_post_ln"));
  EXPECT_FALSE(lm->has_weight("model.decoder.final_layer_norm.weight"));
  EXPECT_TRUE(lm->has_weight("model.decoder.project_in.weight"));
  // max_position_embeddings 64 + the offset 2 rows.
  EXPECT_EQ(lm->weight("model.decoder.embed_positions.weight").size(0), 66);
}

TEST(OptTest, PositionsBeyondTheTableAreInputErrors) {
  const auto lm = load_causal_lm(test::fixture_model("opt"));
  const at::Tensor ids = at::zeros({1, 65}, at::kLong);
  try {
    lm->forward(ids);
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("max_position_embeddings"), std::string::npos);
  }
}

}  // namespace
}  // namespace ptq::model
