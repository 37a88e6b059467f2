// Weight differences between checkpoints: one perturbed element gives exactly its difference
// and ||delta|| / ||W|| for its tensor, zero everywhere else; mismatched models are rejected.

#include "ptq/eval/weight_diff.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "model/model_test_utils.h"
#include "model/random_llama.h"
#include "ptq/common/error.h"
#include "ptq/io/safetensors.h"
#include "test_utils.h"

namespace ptq::eval {
namespace {
namespace fs = std::filesystem;

const test::LlamaShape kShape{/*hidden=*/32, /*intermediate=*/48, /*layers=*/3, /*vocab=*/64,
                              /*heads=*/4};
const std::string kVictim = "model.layers.1.mlp.up_proj.weight";

// A copy of `from` in `to` whose kVictim has `delta` added at [2, 5]; returns that tensor.
at::Tensor write_perturbed_copy(const fs::path& from, const fs::path& to, float delta) {
  fs::create_directory(to);
  fs::copy_file(from / "config.json", to / "config.json");
  const io::SafetensorsReader reader((from / "model.safetensors").string());
  io::SafetensorsWriter writer;
  at::Tensor victim;
  for (const std::string& name : reader.names()) {
    at::Tensor t = reader.tensor(name).clone();
    if (name == kVictim) {
      victim = t.clone();
      t[2][5] += delta;
    }
    writer.add(name, t);
  }
  writer.write((to / "model.safetensors").string());
  return victim;
}

TEST(WeightDiff, OnePerturbedElement) {
  test::TempDir tmp;
  fs::create_directory(tmp / "a");
  test::write_random_llama(tmp / "a", kShape);
  const at::Tensor original = write_perturbed_copy(tmp / "a", tmp / "b", 0.25f);
  const float changed = original[2][5].item<float>() + 0.25f;  // as stored, rounded to fp32
  const double delta = static_cast<double>(changed) - original[2][5].item<double>();

  const WeightDiff diff = diff_weights((tmp / "a").string(), (tmp / "b").string());
  EXPECT_EQ(diff.architecture, "LlamaForCausalLM");
  ASSERT_EQ(diff.layers.size(), 4u);  // global + 3 layers
  EXPECT_EQ(diff.layers[0].index, -1);
  for (const LayerDiff& layer : diff.layers) {
    for (const TensorDiff& t : layer.tensors) {
      if (t.name == kVictim) {
        const double norm = original.to(at::kDouble).norm().item<double>();
        EXPECT_DOUBLE_EQ(t.max_abs, std::abs(delta));
        EXPECT_NEAR(t.relative_frobenius, std::abs(delta) / norm, 1e-12);
        EXPECT_EQ(t.shape, (std::vector<int64_t>{kShape.intermediate, kShape.hidden}));
      } else {
        EXPECT_EQ(t.max_abs, 0.0) << t.name;
      }
    }
    EXPECT_EQ(layer.max_abs, layer.index == 1 ? std::abs(delta) : 0.0) << layer.index;
  }
  EXPECT_DOUBLE_EQ(diff.max_abs, std::abs(delta));
  EXPECT_GT(diff.relative_frobenius, 0.0);
  EXPECT_LT(diff.relative_frobenius, diff.layers[2].relative_frobenius);
}

TEST(WeightDiff, RejectsDifferentArchitectures) {
  EXPECT_THROW(diff_weights(test::fixture_model("llama"), test::fixture_model("opt")), InputError);
}

TEST(CompareCommand, PrintsPerLayerRowsAndRejectsMismatches) {
  const std::string llama = test::fixture_model("llama");
  const test::CliResult same = test::run_cli({"compare", llama, llama});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("global"), std::string::npos) << same.out;
  EXPECT_NE(same.out.find("layer 0"), std::string::npos) << same.out;
  const test::CliResult mismatch = test::run_cli({"compare", llama, test::fixture_model("opt")});
  EXPECT_EQ(mismatch.exit_code, 2) << mismatch.err;
  EXPECT_NE(mismatch.err.find("not the same architecture"), std::string::npos) << mismatch.err;
}

}  // namespace
}  // namespace ptq::eval
