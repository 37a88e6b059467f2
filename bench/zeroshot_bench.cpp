// zeroshot_bench: zero-shot task throughput (examples/s) and the fraction of the perplexity
// evaluation's tokens/s it reaches, both measured in this run on the same model.
//
//   build/bench/zeroshot_bench [--threads N] [--limit 20] [--hidden 256] [--layers 4]
//
// The model is a random LLaMA (bench/random_llama.h) with LLaMA-2's 32000-entry vocabulary, so
// that the tasks' text is tokenized by the real sentencepiece tokenizer
// (shared/models/llama2-tokenizer) from the shared data's zeroshot/ files.
// Task tokens: per request, the positions the model reads for it as lm-eval feeds them,
// min(len(context + continuation), max_length + 1) - 1. Choices that share their context run
// it once (docs/zeroshot.md), so the task path can credit more tokens than it computes.
// Perplexity tokens: segments x seqlen (PerplexityResult::tokens_per_second).

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "eval/loglikelihood.h"
#include "eval/pair_encoding.h"
#include "eval/zeroshot_tasks.h"
#include "ptq/common/progress.h"
#include "ptq/data/dataset.h"
#include "ptq/eval/perplexity.h"
#include "ptq/eval/zeroshot.h"
#include "ptq/tokenizer/tokenizer.h"
#include "random_llama.h"

namespace {

namespace fs = std::filesystem;

struct BenchOptions {
  int threads = 0;  // 0: LibTorch's default
  int64_t limit = 20;
  int64_t hidden = 256;
  int64_t layers = 4;
  int64_t seqlen = 512;
  int64_t segments = 8;
};

// The tokens lm-eval's model reads for the first `limit` examples of `task`.
int64_t task_tokens(const ptq::model::CausalLM& lm,
                    const ptq::tokenizer::Tokenizer& tokenizer,
                    const std::string& task,
                    const std::string& dir,
                    int64_t limit) {
  const int64_t max_length = ptq::eval::max_request_length(lm.config());
  int64_t tokens = 0;
  for (const ptq::eval::TaskDoc& doc : ptq::eval::read_task_docs(task, dir, limit)) {
    for (const ptq::eval::LoglikelihoodRequest& request : doc.requests) {
      const ptq::eval::EncodedRequest encoded = ptq::eval::encode_pair(tokenizer, request);
      const auto whole = static_cast<int64_t>(encoded.context.size() + encoded.continuation.size());
      tokens += std::min(whole, max_length + 1) - 1;
    }
  }
  return tokens;
}

double perplexity_tokens_per_second(ptq::model::CausalLM& lm, const BenchOptions& o) {
  const at::Tensor ids = at::randint(lm.config().vocab_size, {o.segments * o.seqlen}, at::kInt);
  const std::vector<int32_t> tokens(ids.data_ptr<int32_t>(), ids.data_ptr<int32_t>() + ids.numel());
  ptq::eval::PerplexityOptions options;
  options.seqlen = o.seqlen;
  options.max_segments = 1;
  ptq::eval::evaluate_perplexity(lm, tokens, options);  // warm-up
  options.max_segments = 0;
  return ptq::eval::evaluate_perplexity(lm, tokens, options).tokens_per_second;
}

int run(const BenchOptions& o) {
  if (o.threads > 0) at::set_num_threads(o.threads);
  const fs::path data = ptq::data::shared_data_dir();
  const std::string task_dir = (data / "zeroshot").string();
  const auto tokenizer = ptq::tokenizer::load_tokenizer(
      (data.parent_path() / "models" / "llama2-tokenizer" / "tokenizer.model").string());
  const auto lm = ptq::bench::random_llama({o.hidden, o.layers, 32000, o.seqlen});
  std::printf("threads %d; random LLaMA hidden %lld, layers %lld, vocab 32000, positions %lld\n",
              at::get_num_threads(), static_cast<long long>(o.hidden),
              static_cast<long long>(o.layers), static_cast<long long>(o.seqlen));

  const double eval_rate = perplexity_tokens_per_second(*lm, o);
  std::printf("perplexity: %lld x %lld tokens, %.1f tokens/s\n\n",
              static_cast<long long>(o.segments), static_cast<long long>(o.seqlen), eval_rate);

  ptq::eval::ZeroShotOptions options;
  options.task_dir = task_dir;
  options.limit = 1;
  ptq::eval::evaluate_task(*lm, *tokenizer, "piqa", options);  // warm-up
  options.limit = o.limit;
  std::printf("%-16s %8s %10s %12s %10s %12s\n", "task", "examples", "examples/s", "task tokens",
              "tokens/s", "of eval's");
  int64_t all_examples = 0, all_tokens = 0;
  double all_seconds = 0.0;
  for (const char* task : {"lambada_openai", "piqa", "winogrande", "boolq"}) {
    const int64_t tokens = task_tokens(*lm, *tokenizer, task, task_dir, o.limit);
    const auto start = std::chrono::steady_clock::now();
    const ptq::eval::TaskResult r = ptq::eval::evaluate_task(*lm, *tokenizer, task, options);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-16s %8lld %10.2f %12lld %10.1f %11.1f%%\n", task,
                static_cast<long long>(r.examples), r.examples / seconds,
                static_cast<long long>(tokens), tokens / seconds,
                100.0 * tokens / seconds / eval_rate);
    all_examples += r.examples;
    all_tokens += tokens;
    all_seconds += seconds;
  }
  std::printf("%-16s %8lld %10.2f %12lld %10.1f %11.1f%%\n", "all",
              static_cast<long long>(all_examples), all_examples / all_seconds,
              static_cast<long long>(all_tokens), all_tokens / all_seconds,
              100.0 * all_tokens / all_seconds / eval_rate);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ptq::set_progress_style(ptq::ProgressStyle::None);
  CLI::App app{"zeroshot_bench: zero-shot task throughput against eval's tokens/s"};
  BenchOptions o;
  app.add_option("--threads", o.threads, "Intra-op threads (default: LibTorch's)");
  app.add_option("--limit", o.limit, "Examples per task")->capture_default_str();
  app.add_option("--hidden", o.hidden, "Model width (a multiple of 64)")->capture_default_str();
  app.add_option("--layers", o.layers, "Decoder layers")->capture_default_str();
  app.add_option("--seqlen", o.seqlen, "Perplexity segment length and the model's positions")
      ->capture_default_str();
  app.add_option("--segments", o.segments, "Perplexity segments")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "zeroshot_bench: %s\n", e.what());
    return 2;
  }
}
