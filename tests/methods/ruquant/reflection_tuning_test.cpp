// RUQuant stage 2 (--tune-epochs) through the layer-by-layer pipeline: the tuned reflections are
// still exact orthogonal transforms of the network, tuning lowers the quantized layers' output
// error measured on held-out text, the model is left without autograd state, and settings that
// stage 2 cannot honour are clear errors.

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include <map>

#include "model/model_test_utils.h"
#include "ptq/common/error.h"
#include "ptq/data/dataset.h"
#include "ptq/quant/input_transform.h"
#include "ptq/quant/pipeline.h"
#include "quant/quant_test_helpers.h"

namespace ptq::quant {
namespace {

MethodOptions tuned_options(int64_t block, int epochs) {
  MethodOptions o = test_helpers::method_options(4, -1);
  o.quantizer.clip = 0.8;
  o.block_size = static_cast<int>(block);
  o.rotation.steps = 4;
  o.rotation.perm_rounds = 2;
  o.rotation.seed = 1;
  o.rotation.tune_epochs = epochs;
  return o;
}

PipelineOptions w4a4() {
  PipelineOptions p;
  p.activations = {4, 0.9};
  return p;
}

// Every linear's stored transform, by module.
std::map<std::string, InputTransform> quantize(model::CausalLM& lm,
                                               const at::Tensor& ids,
                                               const MethodOptions& options) {
  const auto method = create_method("ruquant", options);
  std::map<std::string, InputTransform> transforms;
  const auto sink = [&](const std::string& module, const QuantizedLinear& q) {
    ASSERT_EQ(transforms.count(module), 0u) << module << " reached the sink twice";
    const auto& t = q.extra_tensors;
    InputTransform& out = transforms[module];
    out.smooth = t.at("input_smooth");
    out.block1 = t.at("input_block1");
    out.permutation = t.at("input_permutation").to(at::kLong);
    out.block2 = t.at("input_block2");
    out.householder = t.at("input_householder");
  };
  quantize_model(lm, ids, *method, *method, w4a4(), sink);
  return transforms;
}

at::Tensor random_ids(const model::CausalLM& lm, int64_t n, int64_t t) {
  at::manual_seed(0);
  return at::randint(lm.config().vocab_size, {n, t}, at::kLong);
}

// The stored transforms folded into an unquantized copy of the model leave its logits as they
// were: each tuned reflection is still an orthogonal change of basis shared by the weights and
// their inputs.
TEST(RuquantStage2, TunedTransformsKeepTheFullPrecisionNetwork) {
  const std::string fixture = "llama";
  const auto quantized = model::load_causal_lm(test::fixture_model(fixture));
  const at::Tensor ids = random_ids(*quantized, 4, 16);
  const auto stage1 =
      quantize(*model::load_causal_lm(test::fixture_model(fixture)), ids, tuned_options(16, 0));
  const auto tuned = quantize(*quantized, ids, tuned_options(16, 3));
  ASSERT_EQ(tuned.size(), stage1.size());

  const auto lm = model::load_causal_lm(test::fixture_model(fixture));
  const test::ReferenceLogits ref = test::load_reference(fixture);
  const at::Tensor before = lm->forward(ref.input_ids);
  for (const auto& [module, t] : tuned) {
    const int64_t width = t.householder.numel();
    const at::Tensor m = t.orthogonal_matrix(width);
    EXPECT_LT((at::matmul(m, m.t()) - at::eye(width)).abs().max().item<double>(), 1e-5) << module;
    EXPECT_NEAR(t.householder.norm().item<double>(), 1.0, 1e-6) << module;
    // Layer 0 saw the same inputs in both runs: the same stage 1, then training moved it.
    if (module.rfind("model.layers.0.", 0) == 0) {
      EXPECT_TRUE(t.block1.equal(stage1.at(module).block1)) << module;
      EXPECT_FALSE(t.householder.equal(stage1.at(module).householder)) << module;
    }
    at::Tensor& w = lm->weight(module + ".weight");
    w.copy_(t.fold_into_weight(w));
    lm->set_input_transform(module, [t = t](const at::Tensor& x) { return t.apply(x); });
  }
  const double diff = test::relative_max_diff(lm->forward(ref.input_ids), before);
  std::printf("[ llama ] tuned transforms: max|diff| / max|logit| = %.3g\n", diff);
  EXPECT_LT(diff, 1e-5);
  // The quantized model keeps plain weights, usable for inference.
  for (int64_t i = 0; i < quantized->num_layers(); ++i) {
    for (const std::string& name : quantized->linear_names(i)) {
      const at::Tensor& w = quantized->weight(name + ".weight");
      EXPECT_FALSE(w.requires_grad()) << name;
      EXPECT_FALSE(w.grad_fn()) << name;
    }
  }
  c10::InferenceMode inference;
  EXPECT_TRUE(quantized->forward(ref.input_ids).isfinite().all().item<bool>());
}

struct Stories {
  std::unique_ptr<model::CausalLM> lm;
  at::Tensor calib;  // [8, 256]
  at::Tensor eval;   // [4, 512], held out
};

at::Tensor token_rows(const std::filesystem::path& file, int64_t rows, int64_t tokens) {
  const data::TokenRows all = data::load_token_rows(file, 512);
  return at::from_blob(const_cast<int32_t*>(all.ids.data()), {all.rows, 512}, at::kInt)
      .slice(0, 0, rows)
      .slice(1, 0, tokens)
      .to(at::kLong);
}

Stories load_stories() {
  const std::filesystem::path dir = test::shared_dir() / "models";
  return {model::load_causal_lm((dir / "stories260K-hf").string()),
          token_rows(dir / "stories260K" / "samples-calib-128x512-seed1.i32", 8, 256),
          token_rows(dir / "stories260K" / "samples-eval-64x512-seed2.i32", 4, 512)};
}

// Sum over the layers of mean((F_i(h_i) - Q_i(h_i))^2), h_i the full-precision model's input to
// layer i on `ids`: each quantized layer's error on the same inputs, not the training loss
// (which sees the quantized stream and the calibration text).
double layer_output_error(const model::CausalLM& fp,
                          const model::CausalLM& q,
                          const at::Tensor& ids) {
  c10::InferenceMode inference;
  at::Tensor h = fp.embed(ids, 0);
  double total = 0;
  for (int64_t i = 0; i < fp.num_layers(); ++i) {
    const at::Tensor next = fp.forward_layer(i, h, 0, nullptr, nullptr);
    total += (q.forward_layer(i, h, 0, nullptr, nullptr) - next).pow(2).mean().item<double>();
    h = next;
  }
  return total;
}

TEST(RuquantStage2, TuningLowersTheLayerOutputErrorOnStories260K) {
  const Stories fp = load_stories();
  Stories stage1 = load_stories(), tuned = load_stories();
  quantize(*stage1.lm, stage1.calib, tuned_options(128, 0));
  quantize(*tuned.lm, tuned.calib, tuned_options(128, 5));
  const double e1 = layer_output_error(*fp.lm, *stage1.lm, fp.eval);
  const double e2 = layer_output_error(*fp.lm, *tuned.lm, fp.eval);
  std::printf(
      "[ stories260K W4A4 ] sum of layer output MSEs on held-out rows: stage 1 %.5g, "
      "tuned 5 epochs %.5g\n",
      e1, e2);
  EXPECT_LT(e2, e1);
}

TEST(RuquantStage2, SettingsItCannotHonourAreClearErrors) {
  MethodOptions o = tuned_options(16, 1);
  o.rotation.weight_method = "gptq";
  EXPECT_THROW(create_method("ruquant", o), InputError);
  o = tuned_options(16, 1);
  o.rotation.smooth_only = true;
  EXPECT_THROW(create_method("ruquant", o), InputError);
  o = tuned_options(16, -1);
  EXPECT_THROW(create_method("ruquant", o), InputError);
  o = tuned_options(16, 1);
  o.rotation.tune_lr = 0;
  EXPECT_THROW(create_method("ruquant", o), InputError);
}

}  // namespace
}  // namespace ptq::quant
