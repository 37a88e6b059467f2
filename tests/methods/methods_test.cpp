// The built-in methods are thin adapters: rtn must equal the group-wise UniformQuantizer and
// gptq must equal gptq_quantize on the same Hessian.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "ptq/common/error.h"
#include "ptq/methods/method.h"
#include "ptq/quant/gptq.h"
#include "quant/quant_test_helpers.h"

namespace ptq::quant {
namespace {

using test_helpers::hessian_of;
using test_helpers::method_options;

TEST(Methods, RegistryListsBuiltinsAndRejectsUnknownNames) {
  EXPECT_EQ(method_names(), (std::vector<std::string>{"gptq", "rtn", "ruquant", "septq"}));
  try {
    create_method("awq", {});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("gptq, rtn, ruquant, septq"), std::string::npos)
        << e.what();
  }
}

// One "name: description" line per registered method, in method_names() order.
TEST(Methods, HelpHasOneDescribedLinePerMethod) {
  std::istringstream lines(method_help());
  std::string line;
  for (const std::string& name : method_names()) {
    ASSERT_TRUE(std::getline(lines, line)) << "no line for " << name;
    EXPECT_EQ(line.rfind(name + ": ", 0), 0u) << line;
    EXPECT_GT(line.size(), name.size() + 12) << "no description: " << line;
  }
  EXPECT_FALSE(std::getline(lines, line)) << "a line for no method: " << line;
}

TEST(Methods, RtnEqualsGroupwiseUniformQuantizer) {
  at::manual_seed(1);
  const at::Tensor w = at::randn({8, 40});
  for (const int group : {-1, 16}) {
    const auto rtn = create_method("rtn", method_options(3, group));
    EXPECT_FALSE(rtn->needs_hessian());
    const QuantizedLinear q = rtn->quantize_linear("m", w, {});
    QuantizerConfig config;
    config.bits = 3;
    const QuantizedWeight want = quantize_rtn(w, UniformQuantizer(config), group);
    EXPECT_TRUE(q.quantized.weight.equal(want.weight)) << group;
    EXPECT_TRUE(q.quantized.codes.equal(want.codes)) << group;
    EXPECT_TRUE(q.quantized.scales.equal(want.scales)) << group;
    EXPECT_EQ(q.loss, 0.0);
  }
}

TEST(Methods, GptqEqualsGptqQuantize) {
  at::manual_seed(2);
  const at::Tensor w = at::randn({8, 40});
  const at::Tensor h = hessian_of(at::randn({3, 64, 40}));
  MethodOptions o = method_options(4, 16);
  o.act_order = true;
  const auto gptq = create_method("gptq", o);
  EXPECT_TRUE(gptq->needs_hessian());
  const QuantizedLinear q = gptq->quantize_linear("m", w, {h, 3});
  GptqConfig config;
  config.quantizer.bits = 4;
  config.group_size = 16;
  config.act_order = true;
  const GptqResult want = gptq_quantize(w, h, config);
  EXPECT_TRUE(q.quantized.weight.equal(want.quantized.weight));
  EXPECT_TRUE(q.quantized.g_idx.equal(want.quantized.g_idx));
  EXPECT_EQ(q.loss, want.loss);
  EXPECT_EQ(q.percdamp, want.percdamp);
  EXPECT_EQ(q.damp, want.damp);
}

}  // namespace
}  // namespace ptq::quant
