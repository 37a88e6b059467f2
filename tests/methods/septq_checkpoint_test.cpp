// SEPTQ's checkpoint: the GPTQ tensors plus the sparse side store, written through the pipeline
// and the writer as `ptq quantize` does, read back to exactly the in-memory model.

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "methods/septq/global_mask.h"
#include "model/model_test_utils.h"
#include "ptq/format/gptq_packing.h"
#include "ptq/format/outlier_store.h"
#include "ptq/format/quantized_checkpoint.h"
#include "ptq/format/quantized_checkpoint_writer.h"
#include "ptq/io/checkpoint.h"
#include "ptq/pipeline/pipeline.h"
#include "quant/quant_test_helpers.h"
#include "test_utils.h"

namespace ptq::quant {
namespace {

namespace fs = std::filesystem;

TEST(SeptqCheckpoint, SideStoreRoundTripsThroughWriterAndReader) {
  test::TempDir tmp;
  const fs::path out = tmp / "septq";
  const std::string source = test::fixture_model("llama");
  MethodOptions options = test_helpers::method_options(3, 16);
  options.keep_percent = 2.5;
  const auto septq = create_method("septq", options);
  const auto rtn = create_method("rtn", options);
  QuantizationFormat format;
  format.bits = 3;
  format.group_size = 16;
  format.sym = false;
  format.method = septq->name();
  format.method_fields = septq->config_fields();
  const auto lm = model::load_causal_lm(source);
  std::map<std::string, at::Tensor> weights;
  {
    QuantizedCheckpointWriter writer(source, out.string(), format, UINT64_MAX);
    const auto sink = [&](const std::string& module, const QuantizedLinear& q) {
      const bool has_bias = lm->has_weight(module + ".bias");
      writer.add_quantized_linear(module, q.quantized,
                                  has_bias ? lm->weight(module + ".bias") : at::Tensor());
      for (const auto& [suffix, tensor] : q.extra_tensors) {
        writer.add_tensor(module + "." + suffix, tensor);
      }
      weights[module] = q.quantized.weight;
      const int64_t kept = methods::septq::kept_count(q.quantized.weight.numel(), 2.5);
      EXPECT_EQ(q.extra_tensors.at(kOutlierIndexSuffix).numel(), kept) << module;
    };
    at::manual_seed(0);
    const at::Tensor ids = at::randint(lm->config().vocab_size, {4, 16}, at::kLong);
    quantize_model(*lm, ids, *septq, *rtn, {}, sink);
    writer.finish();
  }
  ASSERT_FALSE(weights.empty());

  const io::Checkpoint checkpoint(out.string());
  const auto loaded = quant::load_model(out.string());
  for (const auto& [module, weight] : weights) {
    SCOPED_TRACE(module);
    EXPECT_EQ(checkpoint.tensor(module + ".outlier_idx").scalar_type(), at::kInt);
    EXPECT_EQ(checkpoint.tensor(module + ".outlier_val").scalar_type(), at::kHalf);
    EXPECT_TRUE(loaded->weight(module + ".weight").equal(weight));
    // Without the side store the weight is the low-bit one: the store is what differs.
    const at::Tensor low_bit = dequantize_gptq(
        {checkpoint.tensor(module + ".qweight"), checkpoint.tensor(module + ".qzeros"),
         checkpoint.tensor(module + ".scales"), checkpoint.tensor(module + ".g_idx")},
        3);
    EXPECT_FALSE(low_bit.equal(weight));
  }
  const at::Tensor ids = at::randint(lm->config().vocab_size, {2, 16}, at::kLong);
  EXPECT_TRUE(loaded->forward(ids).equal(lm->forward(ids)));

  const std::optional<QuantizationFormat> read = find_quantization_format(out.string());
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->method, "septq");
  EXPECT_EQ(read->method_fields.at("keep_percent").get<double>(), 2.5);
}

}  // namespace
}  // namespace ptq::quant
