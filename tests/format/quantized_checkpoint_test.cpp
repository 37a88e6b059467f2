#include "ptq/format/quantized_checkpoint.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ptq/common/error.h"
#include "ptq/format/gptq_packing.h"
#include "ptq/format/quantized_checkpoint_writer.h"
#include "ptq/io/checkpoint.h"
#include "ptq/model/causal_lm.h"
#include "test_utils.h"

namespace ptq::quant {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr uint64_t kSmallShardBytes = 48 * 1024;  // for the error tests

bool same_bytes(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor ac = a.contiguous();
  const at::Tensor bc = b.contiguous();
  return std::memcmp(ac.data_ptr(), bc.data_ptr(), ac.nbytes()) == 0;
}

QuantizationFormat rtn_format(int bits, int group_size, bool sym = false) {
  QuantizationFormat format;
  format.bits = bits;
  format.group_size = group_size;
  format.sym = sym;
  format.method = "rtn";
  format.method_fields = {{"note", "test"}};
  return format;
}

// The in-memory model after RTN of every linear, and what was written.
struct QuantizedRun {
  std::unique_ptr<model::CausalLM> lm;        // linears replaced by their fake-quantized weights
  std::map<std::string, at::Tensor> weights;  // module -> fake-quantized fp32 weight
  std::set<std::string> replaced;             // source tensors the output does not copy
};

// Quantizes every linear of `source` with RTN, writes `out`, and applies the same weights (and
// the fp16-rounded biases the checkpoint stores) to the in-memory model. The quantizer's default
// fp16_scales makes every scale fp16-representable: the checkpoint stores scales in fp16
// (docs/format.md), so only then are the in-memory weights exactly what v1 readers dequantize.
QuantizedRun quantize_and_write(const std::string& source,
                                const fs::path& out,
                                const QuantizationFormat& format,
                                uint64_t max_shard_bytes) {
  QuantizedRun run{model::load_causal_lm(source), {}, {}};
  QuantizedCheckpointWriter writer(source, out.string(), format, max_shard_bytes);
  for (int64_t layer = 0; layer < run.lm->num_layers(); ++layer) {
    for (const std::string& module : run.lm->linear_names(layer)) {
      // Each linear at its own setting when format.dynamic has rules.
      const LinearSetting setting = *module_setting(format, module);
      QuantizerConfig config;
      config.bits = setting.bits;
      config.sym = format.sym;
      const UniformQuantizer quantizer(config);
      at::Tensor& weight = run.lm->weight(module + ".weight");
      const QuantizedWeight quantized = quantize_rtn(weight, quantizer, setting.group_size);
      const bool has_bias = run.lm->has_weight(module + ".bias");
      const at::Tensor bias = has_bias ? run.lm->weight(module + ".bias") : at::Tensor();
      writer.add_quantized_linear(module, quantized, bias);
      weight.copy_(quantized.weight);
      if (has_bias) run.lm->weight(module + ".bias").copy_(bias.to(at::kHalf).to(at::kFloat));
      run.weights[module] = quantized.weight;
      run.replaced.insert(module + ".weight");
      if (has_bias) run.replaced.insert(module + ".bias");
    }
  }
  writer.finish();
  return run;
}

void expect_quantized_weights_exact(const QuantizedRun& run,
                                    const model::CausalLM& loaded,
                                    const io::Checkpoint& out,
                                    const QuantizationFormat& format) {
  for (const auto& [module, weight] : run.weights) {
    SCOPED_TRACE(module);
    const int bits = module_setting(format, module)->bits;
    EXPECT_FALSE(out.contains(module + ".weight"));
    const GptqPackedWeight packed{out.tensor(module + ".qweight"), out.tensor(module + ".qzeros"),
                                  out.tensor(module + ".scales"), out.tensor(module + ".g_idx")};
    EXPECT_EQ(packed.scales.scalar_type(), at::kHalf);
    EXPECT_TRUE(at::equal(dequantize_gptq(packed, bits), weight));
    EXPECT_TRUE(at::equal(loaded.weight(module + ".weight"), weight));
    if (out.contains(module + ".bias")) {
      EXPECT_EQ(out.tensor(module + ".bias").scalar_type(), at::kHalf);
    }
  }
}

void expect_logits_equal(const model::CausalLM& quantized, const model::CausalLM& loaded) {
  at::manual_seed(0);
  const at::Tensor ids = at::randint(0, quantized.config().vocab_size, {2, 16}, at::kLong);
  const double diff = (loaded.forward(ids) - quantized.forward(ids)).abs().max().item<double>();
  EXPECT_EQ(diff, 0.0);
}

void expect_configs(const fs::path& source, const fs::path& out, const QuantizationFormat& f) {
  const json expected = {
      {"quant_method", "gptq"},
      {"checkpoint_format", "gptq"},
      {"bits", f.bits},
      {"group_size", f.group_size},
      {"desc_act", false},
      {"sym", f.sym},
      {"static_groups", false},
      {"true_sequential", true},
      {"damp_percent", 0.01},
      {"lm_head", false},
      {"pack_dtype", "int32"},
      {"model_file_base_name", "model"},
      {"meta",
       {{"quantizer", {std::string("ptq:") + PTQ_VERSION}}, {"method", "rtn"}, {"note", "test"}}}};
  const json config = json::parse(test::read_file(out / "config.json"));
  EXPECT_EQ(config["quantization_config"], expected);
  EXPECT_EQ(json::parse(test::read_file(out / "quantize_config.json")), expected);
  EXPECT_EQ(config["torch_dtype"], "float16");
  json rest = config;
  rest.erase("quantization_config");
  rest.erase("torch_dtype");
  json source_rest = json::parse(test::read_file(source / "config.json"));
  source_rest.erase("torch_dtype");
  EXPECT_EQ(rest, source_rest);
}

void expect_shards(const fs::path& out, const io::Checkpoint& checkpoint, bool sharded) {
  if (!sharded) {
    EXPECT_TRUE(fs::exists(out / "model.safetensors"));
    EXPECT_FALSE(fs::exists(out / "model.safetensors.index.json"));
    return;
  }
  ASSERT_FALSE(fs::exists(out / "model.safetensors"));
  const json index = json::parse(test::read_file(out / "model.safetensors.index.json"));
  uint64_t total = 0;
  std::set<std::string> shards;
  for (const std::string& name : checkpoint.names()) {
    total += checkpoint.tensor(name).nbytes();
    shards.insert(fs::path(checkpoint.file_of(name)).filename().string());
  }
  EXPECT_EQ(index["metadata"]["total_size"], total);
  EXPECT_GT(shards.size(), 1u);
  const std::string count = std::to_string(shards.size());
  EXPECT_EQ(*shards.begin(),
            "model-00001-of-" + std::string(5 - count.size(), '0') + count + ".safetensors");
}

void expect_unquantized_copied(const io::Checkpoint& source,
                               const io::Checkpoint& out,
                               const std::set<std::string>& replaced) {
  for (const std::string& name : source.names()) {
    if (replaced.count(name)) continue;
    ASSERT_TRUE(out.contains(name)) << name;
    EXPECT_TRUE(same_bytes(out.tensor(name), source.tensor(name))) << name;
  }
}

// Source files copied verbatim; returns how many the source had.
int expect_tokenizer_files_copied(const fs::path& source, const fs::path& out) {
  int copied = 0;
  for (const char* name : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                           "special_tokens_map.json", "vocab.json", "merges.txt",
                           "generation_config.json", "added_tokens.json", "qwen.tiktoken"}) {
    if (!fs::exists(source / name)) continue;
    ++copied;
    EXPECT_EQ(test::read_file(out / name), test::read_file(source / name)) << name;
  }
  return copied;
}

// The whole contract on one model: (a) weights as v1 readers compute them, (b) identical
// logits, (c) configs, (d) unquantized tensors byte-identical, (e) tokenizer files; returns
// the number of linears quantized. Shards hold a sixteenth of the source unless `sharded`
// is false.
size_t check_round_trip(
    const fs::path& source, int bits, int group_size, bool sym = false, bool sharded = true) {
  test::TempDir tmp;
  const fs::path out = tmp / "quantized";
  const QuantizationFormat format = rtn_format(bits, group_size, sym);
  const io::Checkpoint source_checkpoint(source.string());
  uint64_t source_bytes = 0;
  for (const std::string& name : source_checkpoint.names()) {
    source_bytes += source_checkpoint.tensor(name).nbytes();
  }
  const uint64_t max_shard_bytes = sharded ? source_bytes / 16 : UINT64_MAX;
  const QuantizedRun run = quantize_and_write(source.string(), out, format, max_shard_bytes);
  EXPECT_FALSE(run.weights.empty());
  const auto loaded = quant::load_model(out.string());
  const io::Checkpoint out_checkpoint(out.string());
  expect_quantized_weights_exact(run, *loaded, out_checkpoint, format);
  expect_logits_equal(*run.lm, *loaded);
  expect_configs(source, out, format);
  expect_shards(out, out_checkpoint, sharded);
  expect_unquantized_copied(source_checkpoint, out_checkpoint, run.replaced);
  EXPECT_GT(expect_tokenizer_files_copied(source, out), 0);
  EXPECT_FALSE(fs::exists(out.string() + ".tmp-" + std::to_string(::getpid())));
  return run.weights.size();
}

// Per-linear settings (GPTQModel's "dynamic"): each linear stored at its own bits and group
// size decodes to its in-memory weights, the model's logits are identical, and the summary
// counts each linear at its own bits (storage_bits.h, from the in-memory grids).
TEST(QuantizedCheckpointRoundTrip, Stories260KPerLinearSettings) {
  test::TempDir tmp;
  const fs::path source = test::shared_dir() / "models" / "stories260K-hf";
  const auto lm = model::load_causal_lm(source.string());
  const std::vector<LinearSetting> cycle = {{3, 32}, {8, -1}, {2, 64}, {6, 16}, {4, 128}};
  std::map<std::string, LinearSetting> settings;
  for (int64_t layer = 0; layer < lm->num_layers(); ++layer) {
    for (const std::string& module : lm->linear_names(layer)) {
      settings[module] = cycle[settings.size() % cycle.size()];
    }
  }
  QuantizationFormat format = rtn_format(4, 128);
  format.dynamic = dynamic_rules(format.top_setting(), settings);
  size_t overridden = 0;
  for (const auto& entry : settings) overridden += entry.second != format.top_setting();
  ASSERT_EQ(format.dynamic.size(), overridden);
  ASSERT_GT(overridden, 0u);
  const fs::path out = tmp / "mixed";
  const QuantizedRun run = quantize_and_write(source.string(), out, format, UINT64_MAX);
  const auto loaded = quant::load_model(out.string());
  const io::Checkpoint out_checkpoint(out.string());
  const std::optional<QuantizationFormat> read = find_quantization_format(out.string());
  ASSERT_TRUE(read);
  EXPECT_EQ(dynamic_json(read->dynamic), dynamic_json(format.dynamic));
  // 6 bits among the overrides: labelled "ptq", as a uniform 6-bit checkpoint.
  EXPECT_EQ(quantization_config_json(*read)["quant_method"], "ptq");
  expect_quantized_weights_exact(run, *loaded, out_checkpoint, *read);
  expect_logits_equal(*run.lm, *loaded);
  for (const auto& [module, setting] : settings) {
    SCOPED_TRACE(module);
    EXPECT_EQ(module_setting(*read, module), setting);
    const int64_t columns = run.weights.at(module).size(1);
    EXPECT_EQ(out_checkpoint.tensor(module + ".scales").size(0),
              group_count(columns, setting.group_size));
  }
}

// A copy of fixture `name` with tokenizer files beside it (the fixtures have none).
fs::path fixture_with_tokenizer(const test::TempDir& tmp, const std::string& name) {
  const fs::path copy = tmp / name;
  fs::copy(test::fixtures_dir() / name, copy);
  test::write_file(copy / "tokenizer.json", "{\"model\": {\"type\": \"BPE\"}}\n");
  test::write_file(copy / "tokenizer_config.json", "{\"bos_token\": \"<s>\"}\n");
  test::write_file(copy / "special_tokens_map.json", "{}\n");
  test::write_file(copy / "added_tokens.json", "{\"<|user|>\": 32010}\n");
  return copy;
}

fs::path stories260k() { return test::shared_dir() / "models" / "stories260K-hf"; }

TEST(QuantizedCheckpointRoundTrip, Stories260KPerChannel4Bit) {
  // The MLP's 172 wide dimension is padded to 192 in the packed tensors.
  EXPECT_EQ(check_round_trip(stories260k(), 4, -1), 35u);
}

TEST(QuantizedCheckpointRoundTrip, Stories260KGroup32At3Bits) {
  // K = 172 leaves a partial last group of 12 columns.
  EXPECT_EQ(check_round_trip(stories260k(), 3, 32), 35u);
}

TEST(QuantizedCheckpointRoundTrip, LlamaFixtureGroup32) {
  test::TempDir tmp;
  EXPECT_EQ(check_round_trip(fixture_with_tokenizer(tmp, "llama"), 4, 32), 14u);
}

TEST(QuantizedCheckpointRoundTrip, Qwen2FixtureWithQkvBiasOneShard) {
  test::TempDir tmp;
  EXPECT_EQ(check_round_trip(fixture_with_tokenizer(tmp, "qwen2"), 4, -1, false, false), 14u);
}

TEST(QuantizedCheckpointRoundTrip, OptFixtureWithBiases) {
  test::TempDir tmp;
  EXPECT_EQ(check_round_trip(fixture_with_tokenizer(tmp, "opt"), 4, 32), 12u);
}

// The fused qkv_proj and gate_up_proj are packed whole under their own names.
TEST(QuantizedCheckpointRoundTrip, Phi3FixtureFusedLinears) {
  test::TempDir tmp;
  EXPECT_EQ(check_round_trip(fixture_with_tokenizer(tmp, "phi3"), 4, 16), 8u);
}

TEST(QuantizedCheckpointRoundTrip, ShardedBf16LlamaFixtureSym2Bit) {
  test::TempDir tmp;
  EXPECT_EQ(check_round_trip(fixture_with_tokenizer(tmp, "llama_sharded"), 2, 16, true), 21u);
}

// ---- writer errors ----------------------------------------------------------------------

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

template <typename Fn>
std::string input_error_of(Fn fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return "";
}

TEST(QuantizedCheckpointWriter, RefusesNonEmptyOutputDir) {
  test::TempDir tmp;
  fs::create_directory(tmp / "out");
  test::write_file(tmp / "out" / "keep.txt", "mine");
  const std::string message = input_error_of([&] {
    QuantizedCheckpointWriter(stories260k().string(), (tmp / "out").string(), rtn_format(4, -1),
                              kSmallShardBytes);
  });
  EXPECT_NE(message.find((tmp / "out").string()), std::string::npos) << message;
  EXPECT_NE(message.find("not empty"), std::string::npos) << message;
  EXPECT_EQ(entries(tmp / "out"), std::vector<std::string>{"keep.txt"});
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"out"});
}

TEST(QuantizedCheckpointWriter, RefusesOutputUnderARegularFile) {
  // Works for root too, unlike a 0555 directory (root bypasses permission bits).
  test::TempDir tmp;
  test::write_file(tmp / "file", "x");
  const fs::path out = tmp / "file" / "sub";
  const std::string message = input_error_of([&] {
    QuantizedCheckpointWriter(stories260k().string(), out.string(), rtn_format(4, -1),
                              kSmallShardBytes);
  });
  EXPECT_NE(message.find((tmp / "file").string()), std::string::npos) << message;
  EXPECT_EQ(entries(tmp.path()), std::vector<std::string>{"file"});
}

TEST(QuantizedCheckpointWriter, RefusesReadOnlyParent) {
  test::TempDir tmp;
  const fs::path parent = tmp / "read-only";
  fs::create_directory(parent);
  ::chmod(parent.c_str(), 0555);
  const bool bypasses = ::access(parent.c_str(), W_OK) == 0;
  if (bypasses) {
    ::chmod(parent.c_str(), 0755);
    GTEST_SKIP() << "this user bypasses permission bits (root or CAP_DAC_OVERRIDE), so a 0555 "
                    "directory is writable; RefusesOutputUnderARegularFile covers the error";
  }
  const std::string message = input_error_of([&] {
    QuantizedCheckpointWriter(stories260k().string(), (parent / "out").string(), rtn_format(4, -1),
                              kSmallShardBytes);
  });
  ::chmod(parent.c_str(), 0755);
  EXPECT_NE(message.find((parent / "out").string()), std::string::npos) << message;
  EXPECT_TRUE(entries(parent).empty());
}

TEST(QuantizedCheckpointWriter, UnfinishedWriterLeavesNothing) {
  test::TempDir tmp;
  const fs::path out = tmp / "out";
  {
    QuantizedCheckpointWriter writer(stories260k().string(), out.string(), rtn_format(8, -1), 1);
    writer.add_tensor("extra.side_store", at::ones({64, 64}));
    writer.add_tensor("extra.second", at::ones({64}));  // a shard was written before this
    EXPECT_EQ(entries(tmp.path()).size(), 1u);          // only the temporary directory
  }
  EXPECT_TRUE(entries(tmp.path()).empty());
}

TEST(QuantizedCheckpointWriter, FinishFailsIfTheOutputFillsMeanwhile) {
  test::TempDir tmp;
  const fs::path out = tmp / "out";
  QuantizedCheckpointWriter writer(stories260k().string(), out.string(), rtn_format(4, -1),
                                   kSmallShardBytes);
  fs::create_directory(out);
  test::write_file(out / "other.txt", "someone else's");
  const std::string message = input_error_of([&] { writer.finish(); });
  EXPECT_NE(message.find(out.string()), std::string::npos) << message;
  EXPECT_EQ(entries(out), std::vector<std::string>{"other.txt"});
}

TEST(QuantizedCheckpointWriter, RejectsUnknownModuleAndDuplicates) {
  test::TempDir tmp;
  QuantizedCheckpointWriter writer(stories260k().string(), (tmp / "out").string(),
                                   rtn_format(4, -1), kSmallShardBytes);
  const QuantizedWeight q = quantize_rtn(at::randn({64, 64}), UniformQuantizer({}), -1);
  const std::string message =
      input_error_of([&] { writer.add_quantized_linear("model.layers.9.mlp.nope", q, {}); });
  EXPECT_NE(message.find("model.layers.9.mlp.nope.weight"), std::string::npos) << message;
  writer.add_quantized_linear("model.layers.0.self_attn.q_proj", q, {});
  input_error_of([&] { writer.add_quantized_linear("model.layers.0.self_attn.q_proj", q, {}); });
}

// ---- reading quantization configs --------------------------------------------------------

TEST(QuantizedCheckpointConfig, RoundTripsTheWrittenDict) {
  QuantizationFormat format = rtn_format(3, 128);
  format.desc_act = true;
  format.damp_percent = 0.1;
  format.method = "septq";
  format.method_fields = {{"keep_percent", 0.5}};
  const QuantizationFormat parsed =
      parse_quantization_config(quantization_config_json(format), "test");
  EXPECT_EQ(parsed.bits, 3);
  EXPECT_EQ(parsed.group_size, 128);
  EXPECT_FALSE(parsed.sym);
  EXPECT_TRUE(parsed.desc_act);
  EXPECT_DOUBLE_EQ(parsed.damp_percent, 0.1);
  EXPECT_EQ(parsed.method, "septq");
  EXPECT_EQ(parsed.method_fields, format.method_fields);
}

// 5, 6 and 7 bits are ptq's own stream layout: labelled "ptq", which no GPTQ loader takes for
// GPTQ (docs/format.md); the loaders' widths stay "gptq". Both formats round-trip; a config
// without checkpoint_format is v1, as loaders read it.
TEST(QuantizedCheckpointConfig, LabelsBitWidthsAndCheckpointFormats) {
  for (int bits = 2; bits <= 8; ++bits) {
    for (const CheckpointFormat checkpoint : {CheckpointFormat::GptqV1, CheckpointFormat::GptqV2}) {
      QuantizationFormat format = rtn_format(bits, 32);
      format.checkpoint_format = checkpoint;
      const nlohmann::json written = quantization_config_json(format);
      const bool loader_bits = bits == 2 || bits == 3 || bits == 4 || bits == 8;
      EXPECT_EQ(written.at("quant_method"), loader_bits ? "gptq" : "ptq") << bits;
      EXPECT_EQ(written.at("checkpoint_format"),
                checkpoint == CheckpointFormat::GptqV1 ? "gptq" : "gptq_v2");
      const QuantizationFormat parsed = parse_quantization_config(written, "test");
      EXPECT_EQ(parsed.bits, bits);
      EXPECT_EQ(parsed.checkpoint_format, checkpoint);
    }
  }
  const QuantizationFormat absent =
      parse_quantization_config({{"bits", 4}, {"group_size", 128}}, "test");
  EXPECT_EQ(absent.checkpoint_format, CheckpointFormat::GptqV1);
  const QuantizationFormat synonym =
      parse_quantization_config({{"bits", 4}, {"format", "gptq_v2"}}, "test");
  EXPECT_EQ(synonym.checkpoint_format, CheckpointFormat::GptqV2);
}

TEST(QuantizedCheckpointConfig, AttentionQuantizerRoundTripsAndIsOffWhenAbsent) {
  QuantizationFormat format = rtn_format(4, -1);
  format.activations = {4, 0.9};
  format.attention = {4, 1.0};
  const nlohmann::json written = quantization_config_json(format);
  const nlohmann::json& meta = written.at("meta");
  EXPECT_EQ(meta.at("attn_bits"), 4);
  EXPECT_EQ(meta.at("attn_clip"), 1.0);
  EXPECT_EQ(meta.at("attn_qk_transform"), "block_hadamard");
  const QuantizationFormat parsed = parse_quantization_config(written, "test");
  EXPECT_EQ(parsed.attention.bits, 4);
  EXPECT_DOUBLE_EQ(parsed.attention.clip, 1.0);
  EXPECT_EQ(parsed.activations.bits, 4);
  EXPECT_DOUBLE_EQ(parsed.activations.clip, 0.9);
  EXPECT_EQ(parsed.method_fields, format.method_fields);  // no attn_* left over
  // A checkpoint written before attention quantization: activations only, attention in fp.
  nlohmann::json old = written;
  for (const char* key : {"attn_bits", "attn_clip", "attn_granularity", "attn_qk_transform"}) {
    old.at("meta").erase(key);
  }
  const QuantizationFormat before = parse_quantization_config(old, "old");
  EXPECT_EQ(before.activations.bits, 4);
  EXPECT_FALSE(before.attention.enabled());
  // Settings ptq cannot honour are refused, naming the key.
  nlohmann::json bad_bits = written;
  bad_bits["meta"]["attn_bits"] = 1;
  EXPECT_NE(input_error_of([&] { parse_quantization_config(bad_bits, "bad"); }).find("attn_bits"),
            std::string::npos);
  nlohmann::json bad_transform = written;
  bad_transform["meta"]["attn_qk_transform"] = "random_rotation";
  EXPECT_NE(input_error_of([&] {
              parse_quantization_config(bad_transform, "bad");
            }).find("attn_qk_transform"),
            std::string::npos);
}

TEST(QuantizedCheckpointConfig, ReadsQuantizeConfigJsonWithSynonyms) {
  test::TempDir tmp;
  test::write_file(tmp / "config.json", R"({"architectures": ["LlamaForCausalLM"]})");
  EXPECT_FALSE(find_quantization_format(tmp.path().string()).has_value());
  // GPTQModel keeps damp_percent under "meta"; older writers spell bits/group_size otherwise.
  test::write_file(tmp / "quantize_config.json",
                   R"({"w_bit": 2, "q_group_size": 64, "sym": true, "desc_act": true,
                       "meta": {"damp_percent": 0.05, "static_groups": true}})");
  const auto format = find_quantization_format(tmp.path().string());
  ASSERT_TRUE(format.has_value());
  EXPECT_EQ(format->bits, 2);
  EXPECT_EQ(format->group_size, 64);
  EXPECT_TRUE(format->desc_act);
  EXPECT_TRUE(format->static_groups);
  EXPECT_DOUBLE_EQ(format->damp_percent, 0.05);
  EXPECT_EQ(format->method, "gptq");
}

TEST(QuantizedCheckpointConfig, RejectsWhatPtqCannotRead) {
  test::TempDir tmp;
  const std::string file = (tmp / "config.json").string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"quant_method": "awq", "bits": 4, "group_size": 128})", "quant_method"},
      {R"({"method": "awq", "bits": 4, "group_size": 128})", "method"},
      {R"({"checkpoint_format": "gptq_p", "bits": 6, "group_size": 128})", "checkpoint_format"},
      {R"({"bits": 9, "group_size": 128})", "bits"},
      {R"({"wbits": 16, "group_size": 128})", "wbits"},
      {R"({"group_size": 128})", "bits"},
      {R"({"bits": 4, "pack_dtype": "int16"})", "pack_dtype"},
      {R"({"bits": 4, "group_size": 0})", "group_size"},
      {R"({"bits": 4, "dynamic": {"+:x": {"bits": 1}}})", "+:x"},
      {R"({"bits": 4, "dynamic": {"+:x": {"pack_dtype": "int16"}}})", "pack_dtype"},
  };
  for (const auto& [quantization, key] : cases) {
    test::write_file(file, R"({"quantization_config": )" + quantization + "}");
    const std::string message =
        input_error_of([&] { find_quantization_format(tmp.path().string()); });
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_NE(message.find("\"" + key + "\""), std::string::npos)
        << quantization << ": " << message;
  }
}

TEST(QuantizedCheckpointConfig, LoadErrorsNameTheModule) {
  test::TempDir tmp;
  const fs::path out = tmp / "out";
  QuantizedCheckpointWriter writer(stories260k().string(), out.string(), rtn_format(4, -1),
                                   kSmallShardBytes);
  writer.add_tensor("bad.qweight", at::zeros({8, 64}, at::kFloat));
  writer.finish();
  const io::Checkpoint checkpoint(out.string());
  EXPECT_NE(
      input_error_of([&] { load_dequantized_weight(checkpoint, "bad", 4); }).find("bad.qweight"),
      std::string::npos);
  EXPECT_NE(input_error_of([&] {
              load_dequantized_weight(checkpoint, "missing", 4);
            }).find("missing.qweight"),
            std::string::npos);
}

// ---- loading: quant::load_model, not model::load_causal_lm ----------------------------------

TEST(QuantizedCheckpointLoad, PlainModelLoadingNamesTheQuantizedLinearAndTheLoader) {
  test::TempDir tmp;
  const fs::path out = tmp / "quantized";
  quantize_and_write(stories260k().string(), out, rtn_format(4, -1), UINT64_MAX);
  const std::string message = input_error_of([&] { model::load_causal_lm(out.string()); });
  EXPECT_NE(message.find("'model.layers.0.self_attn.q_proj.weight' not found in checkpoint " +
                         out.string()),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("'model.layers.0.self_attn.q_proj.qweight' is there"), std::string::npos)
      << message;
  EXPECT_NE(message.find("quant::load_model"), std::string::npos) << message;
}

// The weight source serves layers read on demand too: lazily, and from the stored-dtype copy.
TEST(QuantizedCheckpointLoad, LazyAndStoredDtypeLayersAreTheWrittenWeights) {
  test::TempDir tmp;
  const fs::path out = tmp / "quantized";
  const QuantizedRun run =
      quantize_and_write(stories260k().string(), out, rtn_format(3, 32), UINT64_MAX);
  for (const model::LoadOptions& options :
       {model::LoadOptions{/*lazy_layers=*/true}, model::LoadOptions{false, true}}) {
    SCOPED_TRACE(options.lazy_layers ? "lazy_layers" : "keep_stored_dtype");
    const auto lm = load_model(out.string(), options);
    for (int64_t i = 0; i < lm->num_layers(); ++i) {
      EXPECT_FALSE(lm->layer_loaded(i));
      lm->load_layer(i);
      for (const std::string& module : lm->linear_names(i)) {
        EXPECT_TRUE(lm->weight(module + ".weight").equal(run.weights.at(module))) << module;
      }
      lm->unload_layer(i);
    }
  }
}

}  // namespace
}  // namespace ptq::quant
