// End-to-end checks of `ptq quantize` on the real stories260K checkpoint: a run that writes a
// loadable GPTQ directory and a report, bad input that exits 2 leaving no output behind, an
// interrupted run, and the progress styles (bar on a terminal, plain lines, JSON lines).

#include <gtest/gtest.h>
#include <pty.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "cli/stories260k_runs.h"
#include "methods/septq/global_mask.h"
#include "ptq/methods/method.h"
#include "test_utils.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;
using stories260k::eval_perplexity;
using stories260k::printed_perplexity;
using stories260k::quantize_args;
using stories260k::short_eval_set;
using stories260k::stories_hf;
using stories260k::stories_tokens;

// Nothing named out* is left in `dir` (no output, no temporary directory).
void expect_no_output(const TempDir& dir) {
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_NE(entry.path().filename().string().rfind("out", 0), 0u) << entry.path();
  }
}

// Exit 2, the message mentions `needle`, and nothing at or beside `out` is left behind.
void expect_bad_input(const TempDir& tmp,
                      const fs::path& out,
                      const std::vector<std::string>& extra,
                      const std::string& needle) {
  const CliResult r = run_cli(quantize_args(out, extra));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
  expect_no_output(tmp);
}

// --method's help is the registry's: every method's line of method_help().
TEST(QuantizeCommand, MethodHelpListsEveryRegisteredMethod) {
  const CliResult r = run_cli({"quantize", "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(quant::method_help());
  std::string line;
  int described = 0;
  while (std::getline(lines, line)) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
    ++described;
  }
  EXPECT_EQ(described, static_cast<int>(quant::method_names().size()));
}

TEST(QuantizeCommand, WritesAGptqDirectoryAndReport) {
  TempDir tmp;
  const fs::path out = tmp / "out";
  const fs::path report = tmp / "report.json";
  const CliResult r =
      run_cli(quantize_args(out, {"--group-size", "32", "--report", report.string(), "--eval",
                                  stories_tokens("samples-eval-64x512-seed2.i32")}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "config.json"));
  const auto json = nlohmann::json::parse(read_file(report));
  EXPECT_EQ(json.at("layers").size(), 5u);
  EXPECT_EQ(json.at("layers")[0].at("linears").size(), 7u);
  EXPECT_TRUE(json.at("settings").at("true_sequential").get<bool>());  // LLaMA default
  EXPECT_GT(json.at("peak_rss_mb").get<double>(), 0.0);
  const double in_memory = json.at("eval").at("perplexity").get<double>();
  EXPECT_GT(in_memory, 15.68);
  // ptq eval of the written directory dequantizes on load: the same model.
  const CliResult e = run_cli({"eval", "--model", out.string(), "--dataset",
                               stories_tokens("samples-eval-64x512-seed2.i32")});
  ASSERT_EQ(e.exit_code, 0) << e.err;
  EXPECT_NE(e.out.find("perplexity"), std::string::npos);
  const double loaded = std::stod(e.out.substr(e.out.find("perplexity") + 11));
  EXPECT_NEAR(loaded, in_memory, 1e-4 * in_memory);
}

TEST(QuantizeCommand, ActivationBitsAreStoredAndHonouredByEval) {
  TempDir tmp;
  const std::string eval_set = short_eval_set(tmp);
  const auto quantize = [&](const std::string& name, const std::string& abits) {
    const CliResult r =
        run_cli(quantize_args(tmp / name, {"--method", "rtn", "--abits", abits, "--act-clip", "0.9",
                                           "--weight-clip", "0.8", "--eval", eval_set}));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return printed_perplexity(r.out);
  };
  const double w4a4 = quantize("w4a4", "4");
  const double w4a16 = quantize("w4a16", "16");
  const auto config = nlohmann::json::parse(read_file(tmp / "w4a4" / "config.json"));
  const auto& meta = config.at("quantization_config").at("meta");
  EXPECT_EQ(meta.at("act_bits").get<int>(), 4);
  EXPECT_DOUBLE_EQ(meta.at("act_clip").get<double>(), 0.9);
  EXPECT_FALSE(nlohmann::json::parse(read_file(tmp / "w4a16" / "config.json"))
                   .at("quantization_config")
                   .at("meta")
                   .contains("act_bits"));
  // 4-bit activations cost perplexity on top of 4-bit weights; ptq eval reruns them.
  EXPECT_GT(w4a4, w4a16 * 1.05);
  EXPECT_NEAR(eval_perplexity(tmp / "w4a4", eval_set), w4a4, 1e-4 * w4a4);
  EXPECT_NEAR(eval_perplexity(tmp / "w4a16", eval_set), w4a16, 1e-4 * w4a16);
}

// --abits quantizes Q, K (after a block Hadamard) and V too unless --no-attention-quant; the
// written directory says so and ptq eval reruns it. RTN weights do not depend on activations,
// so both runs write the same tensors, and the attention-quantized directory with the attn_*
// keys removed (as written before attention quantization existed) evaluates exactly as the
// --no-attention-quant one.
TEST(QuantizeCommand, AttentionQuantizationIsStoredAndHonouredByEval) {
  TempDir tmp;
  const std::string eval_set = short_eval_set(tmp);
  const auto quantize = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args =
        quantize_args(tmp / name, {"--method", "rtn", "--abits", "4", "--act-clip", "0.9",
                                   "--weight-clip", "0.8", "--eval", eval_set});
    args.insert(args.end(), extra.begin(), extra.end());
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return printed_perplexity(r.out);
  };
  const double with_attention = quantize("on", {});
  const double linears_only = quantize("off", {"--no-attention-quant"});
  const auto meta_of = [&](const std::string& name) {
    return nlohmann::json::parse(read_file(tmp / name / "config.json"))
        .at("quantization_config")
        .at("meta");
  };
  const nlohmann::json on = meta_of("on");
  EXPECT_EQ(on.at("attn_bits").get<int>(), 4);
  EXPECT_DOUBLE_EQ(on.at("attn_clip").get<double>(), 1.0);  // the authors do not clip Q/K/V
  EXPECT_EQ(on.at("attn_qk_transform").get<std::string>(), "block_hadamard");
  EXPECT_FALSE(meta_of("off").contains("attn_bits"));
  EXPECT_EQ(meta_of("off").at("act_bits").get<int>(), 4);
  // 4-bit Q/K/V cost perplexity on top of W4A4 linears; ptq eval reruns both models.
  EXPECT_GT(with_attention, linears_only * 1.01);
  EXPECT_NEAR(eval_perplexity(tmp / "on", eval_set), with_attention, 1e-4 * with_attention);
  const double off_loaded = eval_perplexity(tmp / "off", eval_set);
  EXPECT_NEAR(off_loaded, linears_only, 1e-4 * linears_only);

  EXPECT_EQ(read_file(tmp / "on" / "model.safetensors"),
            read_file(tmp / "off" / "model.safetensors"));
  for (const char* file : {"config.json", "quantize_config.json"}) {
    auto config = nlohmann::json::parse(read_file(tmp / "on" / file));
    auto& meta = file == std::string("config.json") ? config.at("quantization_config").at("meta")
                                                    : config.at("meta");
    for (const char* key : {"attn_bits", "attn_clip", "attn_granularity", "attn_qk_transform"}) {
      EXPECT_EQ(meta.erase(key), 1u) << file << " " << key;
    }
    write_file(tmp / "on" / file, config.dump(2));
  }
  EXPECT_EQ(eval_perplexity(tmp / "on", eval_set), off_loaded);
}

TEST(QuantizeCommand, SixBitWeightsRoundTrip) {
  TempDir tmp;
  const std::string eval_set = short_eval_set(tmp);
  const CliResult r = run_cli(quantize_args(
      tmp / "w6a6", {"--method", "rtn", "--wbits", "6", "--abits", "6", "--eval", eval_set}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const double in_memory = printed_perplexity(r.out);
  EXPECT_NEAR(eval_perplexity(tmp / "w6a6", eval_set), in_memory, 1e-4 * in_memory);
}

// stories260K's MLP width 172 is not a multiple of 32: ptq pads it, and the log, the report and
// `ptq inspect` say that only ptq reads the output, naming the 15 MLP linears (gate/up/down of 5
// layers). An asymmetric v1 grid of an all-positive row is refit (docs/format.md); v2 stores its
// zero 0 and refits nothing.
TEST(QuantizeCommand, ReportsUnalignedWidthsLoadersAndZeroRefits) {
  TempDir tmp;
  std::map<std::string, int64_t> refits;
  for (const std::string format : {"gptq", "gptq_v2"}) {
    const fs::path out = tmp / format;
    const fs::path report = tmp / (format + ".json");
    const CliResult r =
        run_cli(quantize_args(out, {"--method", "rtn", "--wbits", "2", "--group-size", "32",
                                    "--checkpoint-format", format, "--report", report.string()}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("readable by ptq only: 15 linears"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("model.layers.4.mlp.down_proj"), std::string::npos) << r.err;
    const nlohmann::json checkpoint = nlohmann::json::parse(read_file(report)).at("checkpoint");
    EXPECT_EQ(checkpoint.at("format"), format);
    EXPECT_EQ(checkpoint.at("unaligned_linears").size(), 15u);
    for (const nlohmann::json& loader : checkpoint.at("loaders")) {
      EXPECT_EQ(loader.at("verdict"), loader.at("loader") == "ptq" ? "loads" : "refuses")
          << loader.dump();
    }
    refits[format] = checkpoint.at("refit_groups").get<int64_t>();
    const nlohmann::json config = nlohmann::json::parse(read_file(out / "config.json"));
    EXPECT_EQ(config.at("quantization_config").at("checkpoint_format"), format);
    const CliResult inspect = run_cli({"inspect", out.string()});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    EXPECT_NE(inspect.out.find("readable by ptq only: 15 linears"), std::string::npos)
        << inspect.out;
    EXPECT_NE(inspect.out.find("vLLM          refuses: widths not multiples of 32"),
              std::string::npos)
        << inspect.out;
  }
  EXPECT_GT(refits["gptq"], 0);
  EXPECT_EQ(refits["gptq_v2"], 0);
}

// RUQuant W4A4 on stories260K: the checkpoint stores the transformed packed weights, the
// transforms and the activation settings, so ptq eval reproduces the in-memory perplexity; the
// same seed writes the same bytes.
TEST(QuantizeCommand, RuquantCheckpointReproducesTheInMemoryModel) {
  TempDir tmp;
  const std::string eval_set = short_eval_set(tmp);
  const auto quantize = [&](const std::string& name, const std::string& seed) {
    const CliResult r = run_cli(quantize_args(
        tmp / name, {"--method", "ruquant", "--abits", "4", "--act-clip", "0.9", "--weight-clip",
                     "0.8", "--rotation-steps", "4", "--seed", seed, "--eval", eval_set}));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return printed_perplexity(r.out);
  };
  const double in_memory = quantize("a", "1");
  EXPECT_NEAR(eval_perplexity(tmp / "a", eval_set), in_memory, 1e-4 * in_memory);
  const auto config = nlohmann::json::parse(read_file(tmp / "a" / "config.json"));
  const auto& meta = config.at("quantization_config").at("meta");
  EXPECT_EQ(meta.at("method").get<std::string>(), "ruquant");
  EXPECT_EQ(meta.at("rotation").get<std::string>(), "ruquant_stage1");
  EXPECT_EQ(meta.at("act_bits").get<int>(), 4);
  quantize("b", "1");
  EXPECT_EQ(read_file(tmp / "a" / "model.safetensors"), read_file(tmp / "b" / "model.safetensors"));
  quantize("c", "2");
  EXPECT_NE(read_file(tmp / "a" / "model.safetensors"), read_file(tmp / "c" / "model.safetensors"));
}

// RUQuant stage 2: the directory holds the tuned reflections and the weights quantized with
// them, so ptq eval reproduces the in-memory perplexity; the same seed writes the same bytes.
TEST(QuantizeCommand, RuquantStage2IsReadBackAndReproducible) {
  TempDir tmp;
  const std::string eval_set = short_eval_set(tmp);
  const auto quantize = [&](const std::string& name) {
    const CliResult r = run_cli(
        quantize_args(tmp / name, {"--method", "ruquant", "--abits", "4", "--act-clip", "0.9",
                                   "--weight-clip", "0.8", "--rotation-steps", "4", "--tune-epochs",
                                   "2", "--nsamples", "4", "--seed", "1", "--eval", eval_set}));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return printed_perplexity(r.out);
  };
  const double in_memory = quantize("a");
  EXPECT_NEAR(eval_perplexity(tmp / "a", eval_set), in_memory, 1e-4 * in_memory);
  const auto config = nlohmann::json::parse(read_file(tmp / "a" / "config.json"));
  const auto& meta = config.at("quantization_config").at("meta");
  EXPECT_EQ(meta.at("rotation").get<std::string>(), "ruquant_stage2");
  EXPECT_EQ(meta.at("tune_epochs").get<int>(), 2);
  EXPECT_DOUBLE_EQ(meta.at("tune_lr").get<double>(), 0.01);
  quantize("b");
  EXPECT_EQ(read_file(tmp / "a" / "model.safetensors"), read_file(tmp / "b" / "model.safetensors"));
}

TEST(QuantizeCommand, SeptqStoresKeptWeightsThatEvalReadsBack) {
  TempDir tmp;
  const fs::path out = tmp / "out";
  const fs::path report = tmp / "report.json";
  const std::string eval = short_eval_set(tmp);
  const CliResult r =
      run_cli(quantize_args(out, {"--method", "septq", "--wbits", "3", "--keep-percent", "2",
                                  "--nsamples", "2", "--report", report.string(), "--eval", eval}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto json = nlohmann::json::parse(read_file(report));
  EXPECT_TRUE(json.at("settings").at("mse").get<bool>());
  EXPECT_EQ(json.at("settings").at("keep_percent").get<double>(), 2.0);
  // Effective bits from the shapes: 3-bit codes, an fp16 scale and a 3-bit zero per row, the
  // int32 g_idx per column, and 32 + 16 bits for each of the ceil(2% of N K) kept weights.
  double stored = 0;
  int64_t weights = 0;
  for (const auto& layer : json.at("layers")) {
    for (const auto& linear : layer.at("linears")) {
      const int64_t n = linear.at("shape")[0];
      const int64_t k = linear.at("shape")[1];
      const int64_t kept = (n * k * 2 + 99) / 100;
      const double bits = n * k * 3.0 + n * 19.0 + 32.0 * k + 48.0 * kept;
      EXPECT_DOUBLE_EQ(linear.at("storage").at("extra_bits").get<double>(), 48.0 * kept);
      EXPECT_DOUBLE_EQ(linear.at("storage").at("bits_per_weight").get<double>(),
                       bits / static_cast<double>(n * k));
      stored += bits;
      weights += n * k;
    }
  }
  EXPECT_EQ(json.at("storage").at("weights").get<int64_t>(), weights);
  EXPECT_DOUBLE_EQ(json.at("storage").at("bits_per_weight").get<double>(), stored / weights);
  EXPECT_NE(r.err.find("effective bits per weight"), std::string::npos) << r.err;
  const auto config = nlohmann::json::parse(read_file(out / "config.json"));
  EXPECT_EQ(config.at("quantization_config").at("meta").at("method"), "septq");
  EXPECT_EQ(config.at("quantization_config").at("meta").at("keep_percent").get<double>(), 2.0);
  // The in-memory model uses the fp16-rounded kept values the directory stores: identical
  // perplexities, to the last printed digit.
  EXPECT_EQ(eval_perplexity(out, eval), printed_perplexity(r.out));
}

TEST(QuantizeCommand, RejectsBadInputWithExitCode2) {
  TempDir tmp;
  const fs::path out = tmp / "out";
  expect_bad_input(tmp, out, {"--wbits", "9"}, "--wbits 9");
  expect_bad_input(tmp, out, {"--abits", "1"}, "--abits");
  expect_bad_input(tmp, out, {"--act-clip", "0"}, "--act-clip");
  expect_bad_input(tmp, out, {"--weight-clip", "1.5"}, "--weight-clip");
  expect_bad_input(tmp, out, {"--method", "ruquant", "--block-size", "1"}, "--block-size");
  expect_bad_input(tmp, out, {"--method", "ruquant", "--weight-method", "awq"}, "--weight-method");
  expect_bad_input(tmp, out,
                   {"--method", "ruquant", "--weight-method", "gptq", "--tune-epochs", "1"},
                   "--weight-method rtn");
  expect_bad_input(tmp, out, {"--group-size", "0"}, "--group-size");
  expect_bad_input(tmp, out, {"--method", "awq"}, "gptq, rtn, ruquant, septq");
  expect_bad_input(tmp, out, {"--method", "septq", "--keep-percent", "60"}, "--keep-percent");
  expect_bad_input(tmp, out, {"--nsamples", "129"}, "--nsamples 129");
  expect_bad_input(tmp, out, {"--seqlen", "3000"}, "exceeds the 512 positions");
  // damp_percent outside (0, 1) is what AutoGPTQ and Transformers refuse to load.
  expect_bad_input(tmp, out, {"--damp", "1"}, "--damp");
  expect_bad_input(tmp, out, {"--damp", "1.5"}, "--damp");
  expect_bad_input(tmp, out, {"--damp", "0"}, "--damp");
  expect_bad_input(tmp, out, {"--checkpoint-format", "gptq_p"}, "--checkpoint-format");
  write_file(tmp / "short.i32", std::string(100 * sizeof(int32_t), '\0'));  // < one 512 row
  expect_bad_input(tmp, out, {"--calib", "tokens:" + (tmp / "short.i32").string()}, "short.i32");
}

// --linear-settings: the named linears at their own bits and group size, stored as GPTQModel's
// "dynamic" rules (docs/format.md), read back by eval; each linear's storage by hand (codes N K b,
// grids G N (16 + b), g_idx 32 K): q_proj 64 x 64 at 2 bits, group 32; down_proj 64 x 172 at 8
// bits per channel.
TEST(QuantizeCommand, LinearSettingsAreStoredAsDynamicAndReadBack) {
  TempDir tmp;
  const std::string eval_set = short_eval_set(tmp);
  const fs::path settings = tmp / "settings.json";
  const nlohmann::json chosen = {
      {"model.layers.0.self_attn.q_proj", {{"bits", 2}, {"group_size", 32}}},
      {"model.layers.4.mlp.down_proj", {{"bits", 8}, {"group_size", -1}}}};
  write_file(settings, chosen.dump());
  const fs::path out = tmp / "out";
  const fs::path report = tmp / "report.json";
  const CliResult r = run_cli(quantize_args(out, {"--linear-settings", settings.string(), "--eval",
                                                  eval_set, "--report", report.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NEAR(eval_perplexity(out, eval_set), printed_perplexity(r.out),
              1e-4 * printed_perplexity(r.out));
  const auto config = nlohmann::json::parse(read_file(out / "config.json"));
  const nlohmann::json expected_dynamic = {
      {"+:model\\.layers\\.0\\.self_attn\\.q_proj$", {{"bits", 2}, {"group_size", 32}}},
      {"+:model\\.layers\\.4\\.mlp\\.down_proj$", {{"bits", 8}, {"group_size", -1}}}};
  EXPECT_EQ(config.at("quantization_config").at("dynamic"), expected_dynamic);
  const auto json = nlohmann::json::parse(read_file(report));
  EXPECT_EQ(json.at("settings").at("linear_settings"), chosen);
  std::map<std::string, double> bits_per_weight;
  for (const auto& layer : json.at("layers")) {
    for (const auto& linear : layer.at("linears")) {
      bits_per_weight[linear.at("name")] = linear.at("storage").at("bits_per_weight");
    }
  }
  EXPECT_DOUBLE_EQ(bits_per_weight.at("model.layers.0.self_attn.q_proj"),
                   (64.0 * 64 * 2 + 2 * 64 * 18 + 32 * 64) / (64 * 64));
  EXPECT_DOUBLE_EQ(bits_per_weight.at("model.layers.4.mlp.down_proj"),
                   (64.0 * 172 * 8 + 64 * 24 + 32 * 172) / (64 * 172));
  // Linears without a setting: --wbits 4, per channel (o_proj: 64 x 64).
  EXPECT_DOUBLE_EQ(bits_per_weight.at("model.layers.0.self_attn.o_proj"),
                   (64.0 * 64 * 4 + 64 * 20 + 32 * 64) / (64 * 64));
}

TEST(QuantizeCommand, RejectsBadLinearSettingsAndBudgets) {
  TempDir tmp;
  const fs::path out = tmp / "out";
  const fs::path settings = tmp / "settings.json";
  write_file(settings, R"({"model.layers.9.mlp.up_proj": {"bits": 3, "group_size": 32}})");
  expect_bad_input(tmp, out, {"--linear-settings", settings.string()},
                   settings.string() + ": 'model.layers.9.mlp.up_proj' is not a quantized linear");
  write_file(settings, R"({"model.layers.0.mlp.up_proj": {"bits": 9, "group_size": 32}})");
  expect_bad_input(tmp, out, {"--linear-settings", settings.string()}, "bits 9 is not 2 to 8");
  write_file(settings, R"({"model.layers.0.mlp.up_proj": {"bits": 3}})");
  expect_bad_input(tmp, out, {"--linear-settings", settings.string()}, "settings.json");
  write_file(settings, R"({"model.layers.0.mlp.up_proj": {"bits": 3, "group_size": 32}})");
  expect_bad_input(tmp, out, {"--method", "ruquant", "--linear-settings", settings.string()},
                   "rtn, gptq and septq can");
  expect_bad_input(tmp, out, {"--target-bits", "3.5", "--linear-settings", settings.string()},
                   "excludes --linear-settings");
  expect_bad_input(tmp, out, {"--measurement", (tmp / "m.json").string()},
                   "--measurement needs --target-bits");
  const fs::path candidates = tmp / "candidates.json";
  write_file(candidates, R"([{"bits": 3, "group_size": 32}])");
  expect_bad_input(tmp, out, {"--candidates", candidates.string()},
                   "--candidates needs --target-bits");
  for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
           {"[]", "expected a non-empty array"},
           {R"({"bits": 3, "group_size": 32})", "expected a non-empty array"},
           {R"([{"bits": 9, "group_size": 32}])", "candidate 0: bits 9 is not 2 to 8"},
           {R"([{"bits": 3, "group_size": 0}])",
            "candidate 0: group_size 0 is neither -1 nor positive"},
           {R"([{"bits": 3, "group_size": 32}, {"bits": 3, "group_size": 32}])",
            R"(candidate 1 repeats {"bits":3,"group_size":32})"},
           {R"([{"bits": 3, "group_size": 32, "keep_percent": 60}])",
            "candidate 0: keep_percent 60 is not a number in 0..50"}}) {
    write_file(candidates, text);
    expect_bad_input(tmp, out, {"--target-bits", "3.5", "--candidates", candidates.string()},
                     candidates.string() + ": " + message);
  }
  expect_bad_input(tmp, out, {"--target-bits", "3.5", "--method", "ruquant"},
                   "rtn, gptq and septq can");
  write_file(settings,
             R"({"model.layers.0.mlp.up_proj": {"bits": 3, "group_size": 32, "keep_percent": 1}})");
  expect_bad_input(tmp, out, {"--linear-settings", settings.string()},
                   "'model.layers.0.mlp.up_proj': keep_percent is SEPTQ's; method 'gptq'");
  write_file(candidates, R"([{"bits": 3, "group_size": 32, "keep_percent": 1}])");
  expect_bad_input(tmp, out, {"--target-bits", "3.5", "--candidates", candidates.string()},
                   "keep_percent is SEPTQ's; method 'gptq' keeps no weights");
  // Written after the measurement pass: a folder that is not there is refused before it.
  expect_bad_input(tmp, out,
                   {"--target-bits", "3.5", "--measurement", (tmp / "no" / "m.json").string()},
                   "--measurement " + (tmp / "no" / "m.json").string());
}

// --target-bits: the effective bits per weight `inspect` counts stay within the target and are
// the measured storage of the chosen settings; eval reads back the in-memory model; a second
// target reuses the measurement file unchanged.
TEST(QuantizeCommand, TargetBitsFitTheBudgetAndReuseTheMeasurement) {
  TempDir tmp;
  const std::string eval_set = short_eval_set(tmp);
  const fs::path measurement = tmp / "measure.json";
  std::string measured;
  for (const std::string target : {"3.5", "4.0"}) {
    SCOPED_TRACE(target);
    const fs::path out = tmp / ("out-" + target);
    const fs::path report = tmp / ("report-" + target + ".json");
    const CliResult r =
        run_cli(quantize_args(out, {"--target-bits", target, "--measurement", measurement.string(),
                                    "--eval", eval_set, "--report", report.string()}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NEAR(eval_perplexity(out, eval_set), printed_perplexity(r.out),
                1e-4 * printed_perplexity(r.out));
    const CliResult inspect = run_cli({"inspect", out.string(), "--json"});
    ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
    const auto q = nlohmann::json::parse(inspect.out).at("quantization");
    EXPECT_LE(q.at("bits_per_weight").get<double>(), std::stod(target));
    EXPECT_FALSE(q.at("dynamic").empty());
    const auto& storage = q.at("storage_bits");
    const double stored = storage.at("codes").get<double>() + storage.at("grids").get<double>() +
                          storage.at("g_idx").get<double>() + storage.at("extra").get<double>();
    const auto json = nlohmann::json::parse(read_file(report));
    EXPECT_DOUBLE_EQ(json.at("allocation").at("storage_bits").get<double>(), stored);
    if (measured.empty()) {
      measured = read_file(measurement);
    } else {
      EXPECT_EQ(read_file(measurement), measured);
      EXPECT_NE(r.err.find("read from " + measurement.string()), std::string::npos) << r.err;
    }
  }
}

// --candidates: each linear's setting is one of the file's, and the report records them.
TEST(QuantizeCommand, TargetBitsChooseAmongTheGivenCandidates) {
  TempDir tmp;
  const fs::path candidates = tmp / "candidates.json";
  write_file(candidates,
             R"([{"bits": 3, "group_size": -1}, {"bits": 4, "group_size": -1},
                 {"bits": 8, "group_size": 64}])");
  const fs::path out = tmp / "out";
  const fs::path report = tmp / "report.json";
  const CliResult r =
      run_cli(quantize_args(out, {"--target-bits", "4.2", "--candidates", candidates.string(),
                                  "--report", report.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto settings = nlohmann::json::parse(read_file(report)).at("settings");
  EXPECT_EQ(settings.at("candidates"), nlohmann::json::parse("[[3, -1], [4, -1], [8, 64]]"));
  std::set<std::pair<int, int>> chosen;
  for (const auto& [module, s] : settings.at("linear_settings").items()) {
    chosen.insert({s.at("bits").get<int>(), s.at("group_size").get<int>()});
  }
  EXPECT_FALSE(chosen.empty());
  for (const auto& setting : chosen) {
    EXPECT_TRUE(setting == std::make_pair(3, -1) || setting == std::make_pair(4, -1) ||
                setting == std::make_pair(8, 64))
        << setting.first << ", " << setting.second;
  }
}

// SEPTQ candidates with their own keep fractions: each linear keeps what its chosen setting's
// fraction gives (global_mask.h's count), in all what `inspect` counts; the report and the
// checkpoint's meta name the per-linear fractions.
TEST(QuantizeCommand, TargetBitsChooseSeptqKeepFractions) {
  TempDir tmp;
  const fs::path candidates = tmp / "candidates.json";
  write_file(candidates,
             R"([{"bits": 3, "group_size": -1, "keep_percent": 0.5},
                 {"bits": 3, "group_size": -1, "keep_percent": 4},
                 {"bits": 4, "group_size": -1, "keep_percent": 1}])");
  const fs::path out = tmp / "out";
  const fs::path report = tmp / "report.json";
  const CliResult r =
      run_cli(quantize_args(out, {"--method", "septq", "--target-bits", "4.0", "--candidates",
                                  candidates.string(), "--report", report.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto json = nlohmann::json::parse(read_file(report));
  std::map<std::string, int64_t> weights;
  for (const auto& layer : json.at("layers")) {
    for (const auto& linear : layer.at("linears")) {
      weights[linear.at("name").get<std::string>()] =
          linear.at("shape").at(0).get<int64_t>() * linear.at("shape").at(1).get<int64_t>();
    }
  }
  int64_t kept = 0;
  std::set<double> keeps;
  nlohmann::json per_linear = nlohmann::json::object();
  for (const auto& [module, s] : json.at("settings").at("linear_settings").items()) {
    const double p = s.at("keep_percent").get<double>();
    keeps.insert(p);
    per_linear[module] = p;
    kept += methods::septq::kept_count(weights.at(module), p);
  }
  EXPECT_EQ(json.at("settings").at("linear_settings").size(), weights.size());
  EXPECT_GT(keeps.size(), 1u) << "one fraction for every linear: the test shows nothing";
  const CliResult inspect = run_cli({"inspect", out.string(), "--json"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  const auto q = nlohmann::json::parse(inspect.out).at("quantization");
  EXPECT_EQ(q.at("kept_weights").get<int64_t>(), kept);
  EXPECT_LE(q.at("bits_per_weight").get<double>(), 4.0);
  const auto config = nlohmann::json::parse(read_file(out / "config.json"));
  EXPECT_EQ(config.at("quantization_config").at("meta").at("keep_percent_per_linear"), per_linear);
}

TEST(QuantizeCommand, RefusesUnwritableOrNonEmptyOutput) {
  TempDir tmp;
  write_file(tmp / "file", "x");
  const CliResult unwritable = run_cli(quantize_args(tmp / "file" / "out", {}));
  EXPECT_EQ(unwritable.exit_code, 2) << unwritable.err;
  fs::create_directory(tmp / "full");
  write_file(tmp / "full" / "keep", "x");
  const CliResult full = run_cli(quantize_args(tmp / "full", {}));
  EXPECT_EQ(full.exit_code, 2) << full.err;
  EXPECT_EQ(read_file(tmp / "full" / "keep"), "x");
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 2);
}

std::vector<char*> argv_of(std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(PTQ_CLI_PATH));
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return argv;
}

// Nothing named out* in `dir` but a work folder holding a committed checkpoint: no output,
// no staging directory, no partial checkpoint.
void expect_no_output_but_a_checkpoint(const TempDir& dir) {
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    if (entry.path().filename() == "out.work") {
      EXPECT_TRUE(fs::exists(entry.path() / "checkpoint.json")) << entry.path();
      continue;
    }
    EXPECT_NE(entry.path().filename().string().rfind("out", 0), 0u) << entry.path();
  }
}

// A disk that fills up mid-write, simulated by a file size limit (writes past it fail with
// EFBIG instead of raising SIGXFSZ, which the child ignores): exit 2 naming the file being
// written (in the output's staging directory), and no partial output (the layers finished
// before the failure may stay checkpointed in out.work, for --resume once there is room).
TEST(QuantizeCommand, FullDiskLeavesNoOutput) {
  TempDir tmp;
  const CliResult r = run_cli(quantize_args(tmp / "out", {"--method", "rtn"}), [] {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit = {64 << 10, 64 << 10};  // stories260K at 4 bits needs ~200 KB
    ::setrlimit(RLIMIT_FSIZE, &limit);
  });
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find((tmp / "out").string()), std::string::npos) << r.err;  // its staging
  EXPECT_NE(r.err.find(std::strerror(EFBIG)), std::string::npos) << r.err;
  expect_no_output_but_a_checkpoint(tmp);
}

struct Interrupted {
  int status = 0;   // as waitpid reports it
  std::string err;  // everything the run wrote to stderr
  bool signalled = false;
};

// `args` on one thread, as a resumed run must match its checkpoint's --threads.
std::vector<std::string> one_thread(std::vector<std::string> args) {
  args.insert(args.begin(), {"--threads", "1"});
  return args;
}

// A real run of `args` on one thread with plain progress lines, sent `signal` once its stderr
// shows `needle` (e.g. "quantize 2/5", printed once layer 1 is done and checkpointed).
Interrupted run_until(std::vector<std::string> args, const std::string& needle, int signal) {
  args.insert(args.begin(), {"--threads", "1", "--progress", "plain"});
  Interrupted run;
  int pipe_fds[2];
  EXPECT_EQ(::pipe(pipe_fds), 0);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  EXPECT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    ::execv(PTQ_CLI_PATH, argv_of(args).data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) {
    run.err.append(buffer, static_cast<size_t>(n));
    if (!run.signalled && run.err.find(needle) != std::string::npos) {
      ::kill(pid, signal);
      run.signalled = true;
    }
  }
  ::close(pipe_fds[0]);
  ::waitpid(pid, &run.status, 0);
  return run;
}

// A real run, SIGINT once the first layer is done: exit 130, no output and no staging
// directory; the finished layer stays checkpointed in out.work for --resume.
TEST(QuantizeCommand, SigintStopsTheRunAndLeavesNoOutput) {
  TempDir tmp;
  const Interrupted run =
      run_until(quantize_args(tmp / "out", {"--nsamples", "32"}), "quantize 1/5", SIGINT);
  ASSERT_TRUE(run.signalled) << run.err;
  ASSERT_TRUE(WIFEXITED(run.status)) << run.err;
  EXPECT_EQ(WEXITSTATUS(run.status), 130) << run.err;
  EXPECT_NE(run.err.find("interrupted"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("rerun with --resume"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("quantize 5/5"), std::string::npos) << "the run finished before SIGINT";
  expect_no_output_but_a_checkpoint(tmp);
  EXPECT_TRUE(fs::exists(tmp / "out.work" / "checkpoint.json"));
  EXPECT_TRUE(fs::exists(tmp / "out.work" / "layer-00000.safetensors"));
}

// RUQuant stage 2 cannot resume (it tunes against the full-precision model's activations):
// an interrupted stage 2 run keeps no checkpoint and does not suggest --resume.
TEST(QuantizeCommand, SigintOfAStage2RunKeepsNoCheckpoint) {
  TempDir tmp;
  const Interrupted run =
      run_until(quantize_args(tmp / "out", {"--method", "ruquant", "--rotation-steps", "2",
                                            "--tune-epochs", "1", "--nsamples", "4"}),
                "quantize 1/5", SIGINT);
  ASSERT_TRUE(run.signalled) << run.err;
  ASSERT_TRUE(WIFEXITED(run.status)) << run.err;
  EXPECT_EQ(WEXITSTATUS(run.status), 130) << run.err;
  EXPECT_NE(run.err.find("interrupted"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("--resume"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("quantize 5/5"), std::string::npos) << "the run finished before SIGINT";
  EXPECT_FALSE(fs::exists(tmp / "out"));
  EXPECT_FALSE(fs::exists(tmp / "out.work")) << "the run created it and checkpointed nothing";
}

// Every file of directory `dir` by name, with its bytes.
std::map<std::string, std::string> directory_files(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    files[entry.path().filename().string()] = read_file(entry.path());
  }
  return files;
}

// A report without what differs between two runs of the same quantization: timings, memory
// and the output path.
nlohmann::json without_timings(nlohmann::json report) {
  for (const char* key : {"quantize_seconds", "total_seconds", "peak_rss_mb"}) report.erase(key);
  report.at("settings").erase("out");
  for (auto& layer : report.at("layers")) {
    layer.erase("seconds");
    for (auto& linear : layer.at("linears")) linear.erase("seconds");
  }
  return report;
}

struct KillCase {
  std::string method;
  int signal;
};

class KillAndResume : public ::testing::TestWithParam<KillCase> {};

// A run killed once layer 1 is checkpointed and resumed with --resume writes the same output
// and report as an uninterrupted run, and quantizes only the layers after the checkpoint.
// ruquant draws its rotations from a random stream in layer order: the checkpoint must carry
// the stream's position for the bytes to agree.
TEST_P(KillAndResume, WritesWhatAnUninterruptedRunWrites) {
  TempDir tmp;
  std::vector<std::string> settings = {"--method", GetParam().method, "--nsamples",
                                       "4",        "--seed",          "3"};
  if (GetParam().method == "ruquant") settings.insert(settings.end(), {"--rotation-steps", "2"});
  const auto args = [&](const std::string& run) {
    std::vector<std::string> extra = settings;
    extra.insert(extra.end(), {"--report", (tmp / (run + ".json")).string()});
    return quantize_args(tmp / run / "out", extra);
  };
  fs::create_directories(tmp / "whole");
  fs::create_directories(tmp / "resumed");
  const CliResult whole = run_cli(one_thread(args("whole")));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;

  const Interrupted killed = run_until(args("resumed"), "quantize 2/5", GetParam().signal);
  ASSERT_TRUE(killed.signalled) << killed.err;
  ASSERT_EQ(killed.err.find("quantize 5/5"), std::string::npos) << "finished before the kill";
  EXPECT_FALSE(fs::exists(tmp / "resumed" / "out"));
  ASSERT_TRUE(fs::exists(tmp / "resumed" / "out.work" / "checkpoint.json"));

  std::vector<std::string> resume_args = one_thread(args("resumed"));
  resume_args.push_back("--resume");
  const CliResult resumed = run_cli(resume_args);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming from"), std::string::npos) << resumed.err;
  // Layers 0 and 1 come from the checkpoint, not from quantizing them again.
  EXPECT_EQ(resumed.err.find("model.layers.0.self_attn.q_proj ["), std::string::npos)
      << resumed.err;
  EXPECT_EQ(resumed.err.find("model.layers.1.mlp.down_proj ["), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find("model.layers.4.mlp.down_proj ["), std::string::npos) << resumed.err;
  EXPECT_FALSE(fs::exists(tmp / "resumed" / "out.work")) << "removed once the output is written";

  const auto expected = directory_files(tmp / "whole" / "out");
  const auto actual = directory_files(tmp / "resumed" / "out");
  ASSERT_TRUE(expected.count("model.safetensors"));
  EXPECT_EQ(actual.size(), expected.size());
  for (const auto& [name, bytes] : expected) {
    EXPECT_TRUE(actual.count(name) && actual.at(name) == bytes) << name << " differs";
  }
  EXPECT_EQ(without_timings(nlohmann::json::parse(read_file(tmp / "resumed.json"))),
            without_timings(nlohmann::json::parse(read_file(tmp / "whole.json"))));
}

INSTANTIATE_TEST_SUITE_P(QuantizeCommand,
                         KillAndResume,
                         ::testing::Values(KillCase{"gptq", SIGKILL}, KillCase{"ruquant", SIGINT}),
                         [](const auto& info) {
                           return info.param.method +
                                  (info.param.signal == SIGKILL ? "_sigkill" : "_sigint");
                         });

// --target-bits: a measurement killed after layer 1 is refused without --resume, resumes with
// it from layer 2 and gives the output and measurement an uninterrupted run gives; the
// measurement stays cached in out.work/measure.json (the rest of out.work removed), and a
// later target to the same output reuses it (and writes it to a --measurement not there yet).
TEST(QuantizeCommand, TargetBitsMeasurementResumesAndIsCached) {
  TempDir tmp;
  const auto args = [&](const std::string& run, const std::string& target) {
    return quantize_args(tmp / run / "out", {"--nsamples", "4", "--target-bits", target, "--report",
                                             (tmp / (run + ".json")).string()});
  };
  fs::create_directories(tmp / "whole");
  fs::create_directories(tmp / "resumed");
  const CliResult whole = run_cli(one_thread(args("whole", "3.5")));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const fs::path cache = tmp / "whole" / "out.work" / "measure.json";
  EXPECT_EQ(directory_files(tmp / "whole" / "out.work").size(), 3u)  // marker, lock, cache
      << "only the measurement stays";
  ASSERT_TRUE(fs::exists(cache));

  const Interrupted killed = run_until(args("resumed", "3.5"), "measure 2/5", SIGKILL);
  ASSERT_TRUE(killed.signalled) << killed.err;
  ASSERT_EQ(killed.err.find("measure 5/5"), std::string::npos) << "finished before the kill";
  EXPECT_FALSE(fs::exists(tmp / "resumed" / "out"));
  ASSERT_TRUE(fs::exists(tmp / "resumed" / "out.work" / "measure" / "checkpoint.json"));
  const CliResult refused = run_cli(one_thread(args("resumed", "3.5")));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("holds an interrupted measurement"), std::string::npos) << refused.err;

  std::vector<std::string> resume_args = one_thread(args("resumed", "3.5"));
  resume_args.push_back("--resume");
  const CliResult resumed = run_cli(resume_args);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("resuming the measurement"), std::string::npos) << resumed.err;
  EXPECT_FALSE(fs::exists(tmp / "resumed" / "out.work" / "measure"));
  EXPECT_EQ(read_file(tmp / "resumed" / "out.work" / "measure.json"), read_file(cache));
  EXPECT_EQ(directory_files(tmp / "resumed" / "out"), directory_files(tmp / "whole" / "out"));

  fs::remove_all(tmp / "whole" / "out");
  std::vector<std::string> second_args = one_thread(args("whole", "4.0"));
  const fs::path copy = tmp / "copy.json";  // a --measurement not there yet: written
  second_args.insert(second_args.end(), {"--measurement", copy.string()});
  const CliResult second = run_cli(second_args);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("reused from " + cache.string()), std::string::npos) << second.err;
  EXPECT_EQ(second.err.find("measure 1/5"), std::string::npos) << "measured again";
  EXPECT_EQ(read_file(copy), read_file(cache));
}

// A checkpoint resumes only under the settings it was made with; without --resume it is not
// silently discarded; a truncated one is rejected. Each refusal exits 2 and keeps it.
TEST(QuantizeCommand, ResumeRefusesAnotherRunsCheckpoint) {
  TempDir tmp;
  const fs::path out = tmp / "out";
  const Interrupted run = run_until(quantize_args(out, {}), "quantize 1/5", SIGINT);
  ASSERT_TRUE(run.signalled && WIFEXITED(run.status) && WEXITSTATUS(run.status) == 130) << run.err;
  const auto refused = [&](const std::vector<std::string>& extra, const std::string& needle,
                           bool resume = true) {
    auto args = one_thread(quantize_args(out, extra));
    if (resume) args.push_back("--resume");
    const CliResult r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out));
    EXPECT_TRUE(fs::exists(tmp / "out.work" / "checkpoint.json"));
  };
  refused({}, "pass --resume to continue it", /*resume=*/false);
  refused({"--nsamples", "4"}, "nsamples: 8 in the checkpoint, 4 now");
  refused({"--wbits", "3", "--group-size", "32"},
          "group_size: -1 in the checkpoint, 32 now; wbits: 4 in the checkpoint, 3 now");
  refused({"--calib", stories_tokens("samples-eval-64x512-seed2.i32")}, "calibration_ids");
  refused({"--eval", stories_tokens("samples-eval-64x512-seed2.i32")},
          "--resume cannot be combined with --eval");
  const fs::path layer = tmp / "out.work" / "layer-00000.safetensors";
  fs::resize_file(layer, fs::file_size(layer) / 2);
  refused({}, "layer-00000.safetensors is truncated");
}

TEST(QuantizeCommand, JsonProgressLinesCountLayers) {
  TempDir tmp;
  std::vector<std::string> args = quantize_args(tmp / "out", {});
  args.insert(args.begin(), {"--progress", "json"});
  const CliResult r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.err);
  int64_t expected = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    const auto json = nlohmann::json::parse(line);
    EXPECT_EQ(json.at("progress"), "quantize");
    EXPECT_EQ(json.at("done"), ++expected);
    EXPECT_EQ(json.at("total"), 5);
    EXPECT_GE(json.at("eta_s").get<double>(), 0.0);
  }
  EXPECT_EQ(expected, 5) << r.err;
}

TEST(QuantizeCommand, PlainProgressWithoutATerminal) {
  TempDir tmp;
  const CliResult r = run_cli(quantize_args(tmp / "out", {}));  // stderr is a file
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int layer = 1; layer <= 5; ++layer) {
    EXPECT_NE(r.err.find("quantize " + std::to_string(layer) + "/5: layer"), std::string::npos)
        << r.err;
  }
  EXPECT_NE(r.err.find("ETA"), std::string::npos);
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
}

// Under a pseudo-terminal the default style draws a bar redrawn in place ("\r" + erase line),
// ending at 5/5 with its time estimate.
TEST(QuantizeCommand, BarProgressOnATerminal) {
  TempDir tmp;
  std::vector<std::string> args = quantize_args(tmp / "out", {});
  std::fflush(nullptr);
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execv(PTQ_CLI_PATH, argv_of(args).data());
    ::_exit(127);
  }
  std::string terminal;
  char buffer[4096];
  for (ssize_t n; (n = ::read(master, buffer, sizeof buffer)) > 0;) {
    terminal.append(buffer, static_cast<size_t>(n));  // EIO once the child has exited
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << terminal;
  EXPECT_NE(terminal.find("\r\033[Kquantize [######"), std::string::npos) << terminal;
  EXPECT_NE(terminal.find("] 100%  5/5  "), std::string::npos) << terminal;
  EXPECT_EQ(terminal.find("quantize 5/5:"), std::string::npos) << "plain lines on a terminal";
}

std::string recipe(const std::string& name) {
  return (fs::path(PTQ_SOURCE_DIR) / "configs" / name).string();
}

nlohmann::json report_settings(const fs::path& report) {
  return nlohmann::json::parse(read_file(report)).at("settings");
}

// The recipe's values apply; the command line's --calib, --nsamples and --wbits win.
TEST(QuantizeCommand, RecipeValuesUnlessTheCommandLineGivesThem) {
  TempDir tmp;
  const CliResult r = run_cli(quantize_args(tmp / "out", {"--config", recipe("gptq-w4g128.json"),
                                                          "--report", (tmp / "a.json").string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json settings = report_settings(tmp / "a.json");
  EXPECT_EQ(settings.at("group_size"), 128);
  EXPECT_EQ(settings.at("seed"), 0);
  EXPECT_EQ(settings.at("nsamples"), 8);  // quantize_args
  EXPECT_EQ(settings.at("calib"), stories_tokens("samples-calib-128x512-seed1.i32"));

  const CliResult w3 =
      run_cli(quantize_args(tmp / "out3", {"--config", recipe("rtn-w4g128.json"), "--wbits", "3",
                                           "--report", (tmp / "b.json").string()}));
  ASSERT_EQ(w3.exit_code, 0) << w3.err;
  settings = report_settings(tmp / "b.json");
  EXPECT_EQ(settings.at("method"), "gptq");  // quantize_args gives --method gptq
  EXPECT_EQ(settings.at("wbits"), 3);
  EXPECT_EQ(settings.at("group_size"), 128);
}

TEST(QuantizeCommand, RecipeWithAnUnknownKeyIsRejected) {
  TempDir tmp;
  write_file(tmp / "typo.json", R"({"quantize": {"wbitz": 3}})");
  const CliResult typo =
      run_cli(quantize_args(tmp / "out", {"--config", (tmp / "typo.json").string()}));
  EXPECT_EQ(typo.exit_code, 2) << typo.err;
  EXPECT_NE(typo.err.find("wbitz"), std::string::npos) << typo.err;
  write_file(tmp / "broken.json", R"({"quantize": {"wbits": )");
  const CliResult broken =
      run_cli(quantize_args(tmp / "out", {"--config", (tmp / "broken.json").string()}));
  EXPECT_EQ(broken.exit_code, 2) << broken.err;
  EXPECT_NE(broken.err.find("not valid JSON"), std::string::npos) << broken.err;
  expect_no_output(tmp);
}

std::vector<std::string> recipe_names() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(fs::path(PTQ_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() == ".json") names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class EveryRecipe : public ::testing::TestWithParam<std::string> {};

// Each shipped recipe runs on stories260K (with a tiny calibration set from the command line)
// and every value it sets reaches the report's effective settings.
TEST_P(EveryRecipe, QuantizesStories260K) {
  TempDir tmp;
  const std::string path = recipe(GetParam());
  const CliResult r =
      run_cli({"quantize", "--config", path, "--model", stories_hf(), "--calib",
               stories_tokens("samples-calib-128x512-seed1.i32"), "--nsamples", "2", "--seqlen",
               "64", "--out", (tmp / "out").string(), "--report", (tmp / "report.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json settings = report_settings(tmp / "report.json");
  // Named: a range-for over a temporary's member would outlive the temporary (ASan found it).
  const nlohmann::json recipe_values = nlohmann::json::parse(read_file(path)).at("quantize");
  for (const auto& [key, value] : recipe_values.items()) {
    if (key == "calib" || key == "nsamples" || key == "seqlen") continue;  // given above
    ASSERT_TRUE(settings.contains(key)) << key;
    EXPECT_EQ(settings.at(key), value) << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Configs,
                         EveryRecipe,
                         ::testing::ValuesIn(recipe_names()),
                         [](const auto& info) {
                           std::string name = info.param.substr(0, info.param.size() - 5);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace ptq::test
