// eval_bench: how close `ptq eval` gets to this machine's fp32 GEMM peak.
//
//   build/eval_bench [--threads N] [--hidden 512] [--layers 4] [--seqlen 512] [--segments 4]
//   build/eval_bench --model DIR --seqlen 512   # profile an existing checkpoint instead
//   build/eval_bench --threads 1 --cpu-time     # on a shared machine: CPU seconds, not wall
//
// 1. GEMM peak: best of several at::matmul runs on square fp32 matrices, in GFLOP/s.
// 2. Eval throughput of a random LLaMA-shaped model (written as a Hugging Face checkpoint to a
//    temp directory and loaded like any other), FLOPs counted as 2 x linear params per token
//    plus 4 x T^2 x d per layer and segment for the attention products.
// 3. Where one forward pass spends its time, split at the linear inputs the model reports to
//    an observer, so a low ratio points at the op to fix.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <string>
#include <vector>

#include "ptq/common/progress.h"
#include "ptq/eval/perplexity.h"
#include "ptq/format/quantized_checkpoint.h"
#include "ptq/model/causal_lm.h"
#include "random_llama.h"

namespace {

struct BenchOptions {
  int threads = 0;        // 0: LibTorch's default
  bool cpu_time = false;  // process CPU time instead of wall time
  std::string model;      // empty: a random LLaMA of the shape below
  int64_t hidden = 512;
  int64_t layers = 4;
  int64_t vocab = 32000;
  int64_t seqlen = 512;
  int64_t segments = 4;
  int repeats = 5;
};

// With one thread, CPU time is the work done whatever else the machine runs; wall time is
// what a user waits for on an idle machine.
class Stopwatch {
 public:
  explicit Stopwatch(bool cpu_time) : _cpu_time(cpu_time) {}
  double now() const {
    if (_cpu_time) return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  double since(double start) const { return now() - start; }

 private:
  bool _cpu_time;
};

double gemm_gflops(int64_t n, int repeats, const Stopwatch& clock) {
  const at::Tensor a = at::randn({n, n});
  const at::Tensor b = at::randn({n, n});
  at::matmul(a, b);  // warm-up: thread pool and allocator
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    const double start = clock.now();
    at::matmul(a, b);
    best = std::min(best, clock.since(start));
  }
  return 2.0 * static_cast<double>(n * n * n) / best / 1e9;
}

// Forward FLOPs of one segment of T tokens.
double segment_flops(const ptq::model::CausalLM& lm, int64_t seqlen) {
  const auto& c = lm.config();
  double linear_params = static_cast<double>(c.vocab_size * c.hidden_size);  // LM head
  for (int64_t i = 0; i < lm.num_layers(); ++i) {
    for (const auto& name : lm.linear_names(i)) {
      linear_params += static_cast<double>(lm.weight(name + ".weight").numel());
    }
  }
  const double t = static_cast<double>(seqlen);
  const double attention = 4.0 * t * t * static_cast<double>(c.hidden_size) * lm.num_layers();
  return 2.0 * linear_params * t + attention;
}

// Time between consecutive observed linear inputs, summed by the linear that ends the span
// (e.g. "o_proj" covers v_proj's product, RoPE, the attention core and softmax).
void print_breakdown(const ptq::model::CausalLM& lm,
                     const at::Tensor& ids,
                     const Stopwatch& clock) {
  c10::InferenceMode inference;
  std::map<std::string, double> spans;
  double last = clock.now();
  const auto close_span = [&](const std::string& name) {
    spans[name] += clock.since(last);
    last = clock.now();
  };
  const ptq::model::LinearInputObserver observer = [&](const std::string& linear,
                                                       const at::Tensor&) {
    close_span("until " + linear.substr(linear.rfind('.') + 1));
  };
  const double start = clock.now();
  at::Tensor hidden = lm.embed(ids, 0);
  close_span("embed");
  for (int64_t i = 0; i < lm.num_layers(); ++i) {
    hidden = lm.forward_layer(i, hidden, 0, nullptr, &observer);
    close_span("end of layer");
  }
  const at::Tensor logits = lm.logits(hidden);
  close_span("final norm + lm_head");
  logits.log_softmax(-1);
  close_span("log_softmax");
  const double total = clock.since(start);
  std::printf("\nTime of one forward pass [%lld x %lld] by span (%.3f s):\n",
              static_cast<long long>(ids.size(0)), static_cast<long long>(ids.size(1)), total);
  for (const auto& [name, seconds] : spans) {
    std::printf("  %-24s %8.4f s  %5.1f%%\n", name.c_str(), seconds, 100.0 * seconds / total);
  }
}

int run(const BenchOptions& o) {
  if (o.threads > 0) at::set_num_threads(o.threads);
  const Stopwatch clock(o.cpu_time);
  std::printf("threads %d, %s time\n", at::get_num_threads(), o.cpu_time ? "CPU" : "wall");
  double peak = 0.0;
  for (const int64_t n : {1024, 2048}) {
    const double gflops = gemm_gflops(n, o.repeats, clock);
    std::printf("gemm %lld^3: %.1f GFLOP/s\n", static_cast<long long>(n), gflops);
    peak = std::max(peak, gflops);
  }

  const auto lm = o.model.empty()
                      ? ptq::bench::random_llama({o.hidden, o.layers, o.vocab, o.seqlen})
                      : ptq::quant::load_model(o.model);
  const int64_t vocab = lm->config().vocab_size;
  const at::Tensor ids = at::randint(vocab, {o.segments * o.seqlen}, at::kInt);
  const std::vector<int32_t> tokens(ids.data_ptr<int32_t>(), ids.data_ptr<int32_t>() + ids.numel());
  ptq::eval::PerplexityOptions options;
  options.seqlen = o.seqlen;
  options.max_segments = 1;
  ptq::eval::evaluate_perplexity(*lm, tokens, options);  // warm-up
  options.max_segments = 0;
  const double start = clock.now();
  const ptq::eval::PerplexityResult r = ptq::eval::evaluate_perplexity(*lm, tokens, options);
  const double seconds = clock.since(start);

  const double achieved = segment_flops(*lm, o.seqlen) * r.segments / seconds / 1e9;
  const auto& c = lm->config();
  std::printf("\nmodel: hidden %lld, ffn %lld, layers %lld, vocab %lld; %lld segments x %lld\n",
              static_cast<long long>(c.hidden_size), static_cast<long long>(c.intermediate_size),
              static_cast<long long>(c.num_layers), static_cast<long long>(vocab),
              static_cast<long long>(r.segments), static_cast<long long>(r.seqlen));
  std::printf("eval: %.1f tokens/s, %.1f GFLOP/s\n", r.tokens / seconds, achieved);
  std::printf("gemm peak: %.1f GFLOP/s\n", peak);
  std::printf("ratio: %.1f%% of peak (target >= 50%%)\n", 100.0 * achieved / peak);
  print_breakdown(*lm, ids.narrow(0, 0, o.seqlen).view({1, o.seqlen}).to(at::kLong), clock);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ptq::set_progress_style(ptq::ProgressStyle::None);  // the timed runs print their own lines
  CLI::App app{"eval_bench: eval throughput against the fp32 GEMM peak"};
  BenchOptions o;
  app.add_option("--threads", o.threads, "Intra-op threads (default: LibTorch's)");
  app.add_flag("--cpu-time", o.cpu_time, "Time in process CPU seconds (use with --threads 1)");
  app.add_option("--model", o.model, "Profile this model directory instead of a random LLaMA");
  app.add_option("--hidden", o.hidden, "Model width (a multiple of 64)")->capture_default_str();
  app.add_option("--layers", o.layers, "Decoder layers")->capture_default_str();
  app.add_option("--vocab", o.vocab, "Vocabulary size")->capture_default_str();
  app.add_option("--seqlen", o.seqlen, "Segment length")->capture_default_str();
  app.add_option("--segments", o.segments, "Segments evaluated")->capture_default_str();
  app.add_option("--repeats", o.repeats, "GEMM runs (best is kept)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return run(o);
}
