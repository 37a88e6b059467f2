// The family tables (ptq/model/tensor_table.h) against what they describe: the tensors of the
// Hugging Face layouts make_fixtures.py writes, GPTQ's reference sequential lists, and the
// inputs the linears really see.

#include "ptq/model/tensor_table.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "model/model_test_utils.h"
#include "ptq/io/checkpoint.h"
#include "ptq/model/architecture.h"
#include "ptq/model/causal_lm.h"
#include "ptq/pipeline/pipeline.h"

namespace ptq::model {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Every tensor the table names is in the fixture with that shape, and every other tensor of
// the fixture is a buffer loaders ignore (older Pythia exports saved rotary_emb.inv_freq).
TEST(TensorTable, SpecsAreTheFixtureCheckpointsTensors) {
  for (const std::string& name : test::model_fixtures()) {
    SCOPED_TRACE(name);
    const ModelConfig config = load_model_config(test::fixture_model(name));
    const io::Checkpoint checkpoint(test::fixture_model(name));
    std::set<std::string> named;
    for (const TensorSpec& spec : checkpoint_specs(config)) {
      ASSERT_TRUE(checkpoint.contains(spec.name)) << spec.name;
      EXPECT_EQ(checkpoint.entry(spec.name).shape, spec.shape) << spec.name;
      EXPECT_TRUE(named.insert(spec.name).second) << spec.name << " named twice";
    }
    for (const std::string& stored : checkpoint.names()) {
      if (named.count(stored) == 0)
        EXPECT_TRUE(ends_with(stored, ".rotary_emb.inv_freq")) << stored;
    }
  }
}

std::vector<std::set<std::string>> as_sets(const std::vector<std::vector<std::string>>& groups) {
  std::vector<std::set<std::string>> sets;
  for (const auto& group : groups) sets.emplace_back(group.begin(), group.end());
  return sets;
}

// `modules` of layer 0 after the layers prefix, as sets.
std::vector<std::set<std::string>> layer0(const std::string& prefix,
                                          const std::vector<std::vector<std::string>>& modules) {
  std::vector<std::set<std::string>> sets;
  for (const auto& group : modules) {
    std::set<std::string> set;
    for (const std::string& module : group) set.insert(prefix + "0." + module);
    sets.push_back(set);
  }
  return sets;
}

// The sequential lists of GPTQ's llama.py and opt.py and GPTQModel's gpt_neox definition.
TEST(TensorTable, TrueSequentialStagesAreTheReferenceLists) {
  const std::map<std::string, std::vector<std::set<std::string>>> want = {
      {"llama",
       layer0("model.layers.", {{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"},
                                {"self_attn.o_proj"},
                                {"mlp.up_proj", "mlp.gate_proj"},
                                {"mlp.down_proj"}})},
      {"opt", layer0("model.decoder.layers.",
                     {{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"},
                      {"self_attn.out_proj"},
                      {"fc1"},
                      {"fc2"}})},
      {"gpt_neox", layer0("gpt_neox.layers.", {{"attention.query_key_value"},
                                               {"attention.dense"},
                                               {"mlp.dense_h_to_4h"},
                                               {"mlp.dense_4h_to_h"}})},
  };
  for (const auto& [name, groups] : want) {
    SCOPED_TRACE(name);
    const auto lm = load_causal_lm(test::fixture_model(name));
    EXPECT_EQ(as_sets(quant::linear_groups(*lm, 0, /*true_sequential=*/true)), groups);
  }
}

TEST(TensorTable, AttentionInputsAreTheQueryKeyValueLinears) {
  const std::map<std::string, std::set<std::string>> want = {
      {"llama",
       {"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
        "model.layers.0.self_attn.v_proj"}},
      {"opt",
       {"model.decoder.layers.0.self_attn.q_proj", "model.decoder.layers.0.self_attn.k_proj",
        "model.decoder.layers.0.self_attn.v_proj"}},
      {"gpt_neox", {"gpt_neox.layers.0.attention.query_key_value"}},
  };
  for (const auto& [name, linears] : want) {
    SCOPED_TRACE(name);
    const auto lm = load_causal_lm(test::fixture_model(name));
    std::set<std::string> got;
    for (const LayerLinear& linear : lm->layer_linears(0)) {
      if (is_attention_input(linear.role)) got.insert(linear.name);
    }
    EXPECT_EQ(got, linears);
  }
}

// Linears the table says share an input are fed the same tensor in a forward pass, and the
// others different ones, in every fixture (pre- and post-LN, parallel and sequential residual).
TEST(TensorTable, SharedInputsAreTheTensorsTheLinearsSee) {
  for (const std::string& name : test::model_fixtures()) {
    SCOPED_TRACE(name);
    const auto lm = load_causal_lm(test::fixture_model(name));
    const at::Tensor ids = test::load_reference(name).input_ids;
    std::map<std::string, at::Tensor> seen;
    const LinearInputObserver observer = [&](const std::string& linear, const at::Tensor& x) {
      seen[linear] = x.clone();
    };
    lm->forward_layer(0, lm->embed(ids, 0), 0, nullptr, &observer);
    const std::vector<LayerLinear> linears = lm->layer_linears(0);
    ASSERT_EQ(seen.size(), linears.size());
    for (const LayerLinear& a : linears) {
      for (const LayerLinear& b : linears) {
        if (a.name >= b.name) continue;
        const at::Tensor& x = seen.at(a.name);
        const at::Tensor& y = seen.at(b.name);
        const bool same = x.sizes() == y.sizes() && at::equal(x, y);
        EXPECT_EQ(same, a.input == b.input) << a.name << " and " << b.name;
      }
    }
  }
}

TEST(TensorTable, LayerNamesFollowTheLayersPrefix) {
  const FamilyTable& opt = find_architecture("OPTForCausalLM").table();
  EXPECT_EQ(opt.layer_prefix(11), "model.decoder.layers.11.");
  EXPECT_STREQ(opt.row(TensorRole::FfnUp).module, "fc1");
  EXPECT_STREQ(opt.row(TensorRole::LmHead).module, "lm_head");
  EXPECT_THROW(opt.row(TensorRole::FfnGate), std::logic_error);  // OPT's MLP has no gate
}

}  // namespace
}  // namespace ptq::model
