// `ptq eval` streams the model: a random LLaMA whose weights are three times a memory limit
// the kernel enforces (a cgroup v1 memory limit) is evaluated to the very perplexity of the
// same model held in memory, while loading it whole cannot fit in the limit; the peak RSS of
// an evaluation does not grow with the number of layers; a budget below one layer exits 3.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/model_larger_than_limit.h"
#include "memory_cgroup.h"
#include "ptq/common/logging.h"
#include "ptq/data/dataset.h"
#include "ptq/eval/perplexity.h"
#include "ptq/model/causal_lm.h"
#include "test_utils.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> eval_args(const fs::path& model,
                                   const fs::path& tokens,
                                   const fs::path& json) {
  return {"--threads",
          "1",
          "--progress",
          "none",
          "eval",
          "--model",
          model.string(),
          "--dataset",
          "tokens:" + tokens.string(),
          "--seqlen",
          std::to_string(kLimitTestSeqlen),
          "--report",
          json.string()};
}

double reported_perplexity(const fs::path& json) {
  return nlohmann::json::parse(read_file(json)).at("perplexity").get<double>();
}

// The model held in memory, every layer loaded, as ptq eval evaluated it before it streamed.
double in_memory_perplexity(const ModelLargerThanLimit& setup) {
  const auto lm = model::load_causal_lm(setup.big.string());
  const data::TokenRows rows = data::load_token_rows(setup.tokens.string(), kLimitTestSeqlen);
  return eval::evaluate_rows(*lm, rows, {}).perplexity;
}

PTQ_MEMORY_LIMIT_TEST(EvalMemory, StreamsAModelThreeTimesLargerThanTheMemoryLimit) {
  TempDir tmp;
  const ModelLargerThanLimit setup = write_model_larger_than_limit(tmp.path());
  const int64_t limit = setup.limit_bytes;

  const CliResult baseline = run_cli(eval_args(setup.small, setup.tokens, tmp / "small.json"));
  ASSERT_EQ(baseline.exit_code, 0) << baseline.err;
  const CliResult unlimited = run_cli(eval_args(setup.big, setup.tokens, tmp / "big.json"));
  ASSERT_EQ(unlimited.exit_code, 0) << unlimited.err;

  const std::string name = "ptq-eval-test-" + std::to_string(::getpid());
  CliResult limited, eager;
  int64_t cgroup_peak = -1;
  bool cgroup_used = false;
  {
    const MemoryCgroup cgroup(name + "-eval", limit);
    cgroup_used = cgroup.usable();
    limited = run_cli_in(cgroup, eval_args(setup.big, setup.tokens, tmp / "limited.json"));
    cgroup_peak = cgroup.read("memory.max_usage_in_bytes");
  }
  if (cgroup_used) {
    const MemoryCgroup cgroup(name + "-generate", limit);
    eager = run_cli_in(cgroup, {"--threads", "1", "generate", "--model", setup.big.string(),
                                "--prompt-ids", "1", "--print-ids", "--max-new-tokens", "1"});
  }
  std::printf("[ eval memory ] layer weights %.0f MB, limit %.0f MB (%s)\n",
              mebibytes_of(setup.layers_bytes), mebibytes_of(limit),
              cgroup_used ? "cgroup v1 memory.limit_in_bytes" : "no writable cgroup");
  std::printf(
      "[ eval memory ] peak RSS: 4 layers %.0f MB, 48 layers %.0f MB; cgroup peak %.0f MB\n",
      mebibytes_of(baseline.max_rss_bytes), mebibytes_of(unlimited.max_rss_bytes),
      mebibytes_of(cgroup_peak));

  ASSERT_EQ(limited.exit_code, 0) << limited.err;
  // Computed after the runs: a child's peak RSS counts the pages it shares with this process
  // between fork and exec, which the in-memory model would inflate.
  const double expected = in_memory_perplexity(setup);
  EXPECT_EQ(reported_perplexity(tmp / "big.json"), expected);
  EXPECT_EQ(reported_perplexity(tmp / "limited.json"), expected);
  if (kRssMeasuresAllocations) {
    // 44 more layers (462 MB) may add allocator noise to the peak, under three layers' worth.
    EXPECT_LT(unlimited.max_rss_bytes - baseline.max_rss_bytes, int64_t{32} << 20);
    EXPECT_LT(limited.max_rss_bytes, limit + baseline.max_rss_bytes);
  }
  if (cgroup_used) {
    EXPECT_NE(eager.exit_code, 0) << "the eager load fit in the limit meant to exclude it";
  }
}

TEST(EvalMemory, BudgetBelowOneLayerExits3BeforeAnyWork) {
  TempDir tmp;
  const LlamaShape shape{/*hidden=*/512, /*intermediate=*/1024, /*layers=*/2, kLimitTestVocab,
                         /*heads=*/8};
  write_random_llama(tmp.path(), shape);
  // The weights alone are 1 MiB of globals and 10 MiB for a layer: a 4 MiB budget cannot work.
  const int64_t weights =
      fp32_bytes(llama_global_tensors(shape)) + fp32_bytes(llama_layer_tensors(shape, 0));
  write_file(tmp / "tokens.i32", std::string(4 * kLimitTestSeqlen * sizeof(int32_t), '\0'));
  std::vector<std::string> args = eval_args(tmp.path(), tmp / "tokens.i32", tmp / "r.json");
  args.insert(args.end(), {"--memory-budget", "4"});
  const CliResult r = run_cli(args);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find(fmt::format("one decoder layer in fp32: {:.1f} MiB", mebibytes_of(weights))),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("the memory budget is 4.0 MiB (--memory-budget)"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(fs::exists(tmp / "r.json"));
}

}  // namespace
}  // namespace ptq::test
