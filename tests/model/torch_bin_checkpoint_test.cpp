// A model saved by torch.save (pytorch_model.bin, single and sharded) runs exactly as its
// safetensors twin: tests/reference/make_torch_bin_fixtures.py saves the same weights the
// "llama" and "llama_sharded" fixtures of make_fixtures.py hold.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "model/model_test_utils.h"

namespace ptq::model {
namespace {

TEST(TorchBinCheckpoint, LogitsBitIdenticalToSafetensors) {
  for (const std::string name : {"llama", "llama_sharded"}) {
    SCOPED_TRACE(name);
    const auto bin = load_causal_lm((test::fixtures_dir() / "torch_bin" / name).string());
    const auto safetensors = load_causal_lm(test::fixture_model(name));
    const test::ReferenceLogits ref = test::load_reference(name);
    const at::Tensor logits = bin->forward(ref.input_ids);
    EXPECT_TRUE(at::equal(logits, safetensors->forward(ref.input_ids)));
    const double diff = test::relative_max_diff(logits, ref.logits);
    std::printf("[ %-19s ] pytorch_model.bin vs Python reference: %.3g\n", name.c_str(), diff);
    EXPECT_LT(diff, 1e-4);
  }
}

}  // namespace
}  // namespace ptq::model
