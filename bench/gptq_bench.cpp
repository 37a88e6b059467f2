// GPTQ cost relative to dense GEMM, measured in the same run on the same machine:
//  - GPTQ (4-bit, group 128, act-order off) on a d x d linear vs one d x d x d fp32 GEMM;
//  - Hessian accumulation (HessianAccumulator::add_batch of 2048-token samples) GFLOP/s vs the
//    GEMM's GFLOP/s (the practical peak);
//  - the lazy block updates alone (gptq.cpp's addmm_ of each 128-column block's error into the
//    columns after it, same shapes and layout) GFLOP/s vs the GEMM's.
//  - the pipeline's relative-error diagnostic on that GPTQ result vs the d x d GEMM;
//  - with --rect, the 7B MLP shapes N x K = 4096 x 11008 (down_proj) and 11008 x 4096
//    (gate/up): GPTQ vs the FLOP model of its solve (Cholesky and triangular inverse: 2/3 K^3;
//    lazy updates N K^2) at the rate of an [N, K] x [K, K] GEMM timed in the same run; the
//    Hessian is from one 2048-token sample (damping keeps it positive definite).
// Usage: gptq_bench [--large] [--rect] [--repeats N] [--cpu-time]

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>

#include "bench_helpers.h"
#include "ptq/common/logging.h"
#include "ptq/quant/gptq.h"
#include "ptq/quant/relative_error.h"

namespace {

using ptq::bench::best_seconds;
using ptq::bench::kSamples;
using ptq::bench::kTokens;

void bench_dimension(int64_t d, int repeats) {
  at::manual_seed(0);
  const at::Tensor a = at::randn({d, d});
  const at::Tensor b = at::randn({d, d});
  const double gemm_s = best_seconds(repeats, [&] { at::mm(a, b); });
  const double gemm_gflops = 2.0 * d * d * d / gemm_s / 1e9;

  const at::Tensor x = at::randn({kTokens, d});
  at::Tensor hessian;
  const double hessian_s =
      best_seconds(repeats, [&] { hessian = ptq::bench::accumulate_hessian(x); });
  const double hessian_gflops = 2.0 * kSamples * kTokens * d * d / hessian_s / 1e9;

  // gptq.cpp keeps W transposed (wt [K, N]) and updates the rows after each block of 128.
  constexpr int64_t kBlock = 128;
  at::Tensor wt = at::randn({d, d});
  const at::Tensor hinv = at::randn({d, d});
  const at::Tensor err1 = at::randn({kBlock, d});
  double update_flops = 0;
  for (int64_t end = kBlock; end < d; end += kBlock) update_flops += 2.0 * (d - end) * kBlock * d;
  const double update_s = best_seconds(repeats, [&] {
    for (int64_t begin = 0, end = kBlock; end < d; begin = end, end += kBlock) {
      wt.slice(0, end).addmm_(hinv.slice(0, begin, end).slice(1, end).t(), err1, 1, -1);
    }
  });
  const double update_gflops = update_flops / update_s / 1e9;

  ptq::quant::GptqConfig config;
  config.quantizer.bits = 4;
  config.group_size = 128;
  const at::Tensor w = at::randn({d, d});
  ptq::quant::GptqResult result;
  const double gptq_s =
      best_seconds(repeats, [&] { result = ptq::quant::gptq_quantize(w, hessian, config); });
  // The pipeline's diagnostic (relative_error.h) on the result, vs one d x d GEMM (its former
  // formula, the full products W H and (W - Q) H, was two).
  const double relative_s = best_seconds(
      repeats, [&] { ptq::quant::relative_error(w, result.quantized.weight, hessian); });

  std::printf("%6lld %10.4f %8.1f %10.4f %8.1f %8.2f %8.1f %8.2f %10.4f %8.2f %8.2f\n",
              static_cast<long long>(d), gemm_s, gemm_gflops, hessian_s, hessian_gflops,
              hessian_gflops / gemm_gflops, update_gflops, update_gflops / gemm_gflops, gptq_s,
              gptq_s / gemm_s, relative_s / gemm_s);
}

void bench_rectangle(int64_t n, int64_t k, int repeats) {
  at::manual_seed(0);
  const at::Tensor w = at::randn({n, k});
  const at::Tensor square = at::randn({k, k});
  const double gemm_s = best_seconds(repeats, [&] { at::mm(w, square); });
  const double rate = 2.0 * n * k * k / gemm_s;
  ptq::quant::HessianAccumulator accumulator(k);
  accumulator.add_batch(at::randn({kTokens, k}));
  ptq::quant::GptqConfig config;
  config.quantizer.bits = 4;
  config.group_size = 128;
  const double gptq_s =
      best_seconds(repeats, [&] { ptq::quant::gptq_quantize(w, accumulator.hessian(), config); });
  const double model_s = (2.0 / 3.0 * k * k * k + static_cast<double>(n) * k * k) / rate;
  std::printf("%6lld x %-6lld %10.3f %8.1f %10.3f %10.3f %8.2f %8.2f\n", static_cast<long long>(n),
              static_cast<long long>(k), gemm_s, rate / 1e9, model_s, gptq_s, gptq_s / model_s,
              gptq_s / gemm_s);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"GPTQ and Hessian accumulation cost vs same-shape GEMM"};
  ptq::bench::Dimensions dimensions;
  dimensions.add_options(app);
  bool rect = false;
  app.add_flag("--rect", rect, "also run the 7B MLP shapes 4096 x 11008 and 11008 x 4096");
  CLI11_PARSE(app, argc, argv);
  ptq::set_log_level(ptq::LogLevel::Warning);

  std::printf("threads %d; %s seconds; Hessian: %d samples x %lld tokens; GPTQ: 4-bit, group 128\n",
              at::get_num_threads(), ptq::bench::timer() == ptq::bench::Timer::Cpu ? "CPU" : "wall",
              kSamples, static_cast<long long>(kTokens));
  std::printf("%6s %10s %8s %10s %8s %8s %8s %8s %10s %8s %8s\n", "d", "gemm_s", "GFLOP/s",
              "hessian_s", "GFLOP/s", "H/gemm", "upd GF/s", "upd/gemm", "gptq_s", "gptq/gemm",
              "rel/gemm");
  for (int64_t d : dimensions.dims()) bench_dimension(d, dimensions.repeats);
  if (rect) {
    std::printf("\n%15s %10s %8s %10s %10s %8s %8s\n", "N x K", "gemm_s", "GFLOP/s", "model_s",
                "gptq_s", "gptq/mod", "gptq/gemm");
    bench_rectangle(4096, 11008, dimensions.repeats);
    bench_rectangle(11008, 4096, dimensions.repeats);
  }
  return 0;
}
