// export_merged_outliers on a hand-made SEPTQ directory holding the linear of
// tiny_outlier_linear.h (v1 and v2): the exported codes are the ones derived by hand, the grids,
// bias, other tensors and files are kept, the side tensors gone; and what it refuses.

#include "ptq/format/outlier_export.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "ptq/common/error.h"
#include "ptq/io/checkpoint.h"
#include "ptq/io/safetensors.h"
#include "quant/tiny_outlier_linear.h"
#include "test_utils.h"

namespace ptq::quant {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr uint64_t kShardBytes = 1 << 20;

QuantizationFormat septq_format(CheckpointFormat checkpoint_format) {
  QuantizationFormat f;
  f.bits = 2;
  f.group_size = 2;
  f.sym = false;
  f.checkpoint_format = checkpoint_format;
  f.method = "septq";
  f.method_fields = {{"keep_percent", 50.0}};
  return f;
}

// `dir`: the tiny linear "m" (packed, with its side store unless `side_store` is false and a
// bias), a plain tensor "other.weight", config.json and a tokenizer file.
void write_septq_dir(const fs::path& dir, const QuantizationFormat& format, bool side_store) {
  fs::create_directories(dir);
  const GptqPackedWeight packed =
      pack_gptq(test_helpers::tiny_outlier_weight(), format.bits, format.checkpoint_format);
  io::SafetensorsWriter w;
  w.add("m.qweight", packed.qweight);
  w.add("m.qzeros", packed.qzeros);
  w.add("m.scales", packed.scales);
  w.add("m.g_idx", packed.g_idx);
  w.add("m.bias", at::tensor(std::vector<float>{0.5f, -1.5f}).to(at::kHalf));
  if (side_store) {
    const OutlierStore store = test_helpers::tiny_outlier_store();
    w.add(std::string("m.") + kOutlierIndexSuffix, store.indices);
    w.add(std::string("m.") + kOutlierValueSuffix, store.values);
  }
  w.add("other.weight", at::tensor(std::vector<float>{1, 2, 3}));
  w.set_metadata("format", "pt");
  w.write((dir / "model.safetensors").string());
  const json config = {{"architectures", {"LlamaForCausalLM"}},
                       {"torch_dtype", "float16"},
                       {"quantization_config", quantization_config_json(format)}};
  test::write_file(dir / "config.json", config.dump(2));
  test::write_file(dir / "quantize_config.json", quantization_config_json(format).dump(2));
  test::write_file(dir / "tokenizer.json", "{\"model\": {\"type\": \"BPE\"}}\n");
}

void expect_exported(CheckpointFormat checkpoint_format) {
  test::TempDir tmp;
  const QuantizationFormat format = septq_format(checkpoint_format);
  write_septq_dir(tmp / "septq", format, true);
  const MergedExport e =
      export_merged_outliers((tmp / "septq").string(), (tmp / "out").string(), kShardBytes);
  EXPECT_EQ(e.linears, 1);
  EXPECT_EQ(e.merged_linears, 1);
  EXPECT_EQ(e.merge.kept, 4);
  EXPECT_EQ(e.merge.changed, 2);
  EXPECT_FALSE(e.traits.side_tensors);
  const io::Checkpoint in((tmp / "septq").string());
  const io::Checkpoint out((tmp / "out").string());
  EXPECT_EQ(out.names(), (std::vector<std::string>{"m.bias", "m.g_idx", "m.qweight", "m.qzeros",
                                                   "m.scales", "other.weight"}));
  const QuantizedWeight read =
      unpack_gptq(load_packed_weight(out, "m"), format.bits, checkpoint_format);
  EXPECT_TRUE(at::equal(read.codes, test_helpers::tiny_outlier_merged_codes())) << read.codes;
  // The grids and the other tensors are stored as they were.
  for (const char* name : {"m.qzeros", "m.scales", "m.g_idx", "m.bias", "other.weight"}) {
    EXPECT_TRUE(at::equal(out.tensor(name), in.tensor(name))) << name;
  }
  // The quantization config is the input's with meta.merged_outliers.
  json expected = json::parse(test::read_file(tmp / "septq" / "config.json"));
  expected["quantization_config"]["meta"][kMergedOutliersKey] = true;
  EXPECT_EQ(json::parse(test::read_file(tmp / "out" / "config.json")), expected);
  EXPECT_EQ(json::parse(test::read_file(tmp / "out" / "quantize_config.json")),
            expected["quantization_config"]);
  EXPECT_EQ(test::read_file(tmp / "out" / "tokenizer.json"),
            test::read_file(tmp / "septq" / "tokenizer.json"));
}

TEST(OutlierExport, V1CodesAreTheOnesDerivedByHand) { expect_exported(CheckpointFormat::GptqV1); }
TEST(OutlierExport, V2CodesAreTheOnesDerivedByHand) { expect_exported(CheckpointFormat::GptqV2); }

// InputError whose message holds `needle`, and nothing at or beside `out`.
void expect_refused(const fs::path& model, const fs::path& out, const std::string& needle) {
  try {
    export_merged_outliers(model.string(), out.string(), kShardBytes);
    ADD_FAILURE() << "expected InputError for " << model;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  for (const auto& entry : fs::directory_iterator(out.parent_path())) {
    EXPECT_NE(entry.path().filename().string().rfind("out", 0), 0u) << entry.path();
  }
}

TEST(OutlierExport, RefusesWhatIsNotASeptqCheckpointWithSideTensors) {
  test::TempDir tmp;
  const fs::path out = tmp / "out";
  expect_refused(tmp / "missing", out, (tmp / "missing").string() + " is not a directory");
  // An unquantized model directory: its config.json has no quantization_config.
  fs::create_directories(tmp / "fp");
  test::write_file(tmp / "fp" / "config.json", R"({"architectures": ["LlamaForCausalLM"]})");
  expect_refused(tmp / "fp", out, (tmp / "fp" / "config.json").string() + " has no quantization");
  QuantizationFormat gptq = septq_format(CheckpointFormat::GptqV1);
  gptq.method = "gptq";
  write_septq_dir(tmp / "gptq", gptq, true);
  expect_refused(tmp / "gptq", out,
                 (tmp / "gptq" / "config.json").string() +
                     ": quantization_config.meta.method is \"gptq\", not \"septq\"");
  write_septq_dir(tmp / "plain", septq_format(CheckpointFormat::GptqV1), false);
  expect_refused(tmp / "plain", out, (tmp / "plain").string() + " holds no side tensors");
}

TEST(OutlierExport, RefusesAnExportAndAnExistingOutput) {
  test::TempDir tmp;
  write_septq_dir(tmp / "septq", septq_format(CheckpointFormat::GptqV1), true);
  export_merged_outliers((tmp / "septq").string(), (tmp / "merged").string(), kShardBytes);
  expect_refused(tmp / "merged", tmp / "out", "merged already");
  // An output that exists (not empty) is never written into.
  fs::create_directories(tmp / "out");
  test::write_file(tmp / "out" / "keep.txt", "mine");
  try {
    export_merged_outliers((tmp / "septq").string(), (tmp / "out").string(), kShardBytes);
    ADD_FAILURE() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("exists and is not empty"), std::string::npos) << e.what();
  }
  EXPECT_EQ(test::read_file(tmp / "out" / "keep.txt"), "mine");
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp / "out"), fs::directory_iterator()), 1);
}

}  // namespace
}  // namespace ptq::quant
