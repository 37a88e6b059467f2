// SEPTQ's cost over GPTQ on the same d x d linears in the same run (issue 5: the overhead of
// scoring and masking must stay under 25% of GPTQ's time). Both per channel at 3 bits with
// SEPTQ's MSE-clipped grid, so the only difference is SEPTQ's work:
//  - gptq_s:   the gptq method (Hessian preparation + column loop);
//  - septq_s:  the septq method with 1% kept (same + scores + global mask + side store);
//  - score_s:  RTN on the per-channel grid + importance scores + global mask alone, with the
//              Hessian prepared and the grid found (both shared with the column loop).
// score/gptq = score_s / gptq_s is the budgeted overhead (exit status 1 when >= 25%);
// total = septq_s / gptq_s - 1 also includes the masked loop and the side store, and is as
// noisy as the difference of two timings on a shared machine.
// Usage: septq_bench [--large] [--repeats N]

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>

#include "bench_helpers.h"
#include "methods/septq/global_mask.h"
#include "methods/septq/importance.h"
#include "ptq/common/logging.h"
#include "ptq/methods/method.h"
#include "ptq/quant/gptq.h"

namespace {

using ptq::bench::best_seconds;

constexpr double kBudget = 0.25;  // SEPTQ's extra time as a fraction of GPTQ's

bool bench_dimension(int64_t d, int repeats) {
  at::manual_seed(0);
  const at::Tensor hessian = ptq::bench::accumulate_hessian(at::randn({ptq::bench::kTokens, d}));
  const at::Tensor w = at::randn({d, d});
  ptq::quant::MethodOptions options;
  options.quantizer.bits = 3;
  options.quantizer.mse = true;
  options.keep_percent = 1.0;
  const auto gptq = ptq::quant::create_method("gptq", options);
  const auto septq = ptq::quant::create_method("septq", options);
  const ptq::quant::LinearStats stats{hessian, ptq::bench::kSamples};
  const double gptq_s = best_seconds(repeats, [&] { gptq->quantize_linear("m", w, stats); });
  const double septq_s = best_seconds(repeats, [&] { septq->quantize_linear("m", w, stats); });

  ptq::quant::GptqConfig config;
  config.quantizer = options.quantizer;
  const ptq::quant::PreparedHessian prepared = ptq::quant::prepare_hessian(hessian, config);
  const ptq::quant::UniformQuantizer quantizer(config.quantizer);
  const ptq::quant::QuantParams grid = quantizer.find_params(w);
  const double score_s = best_seconds(repeats, [&] {
    const at::Tensor scores =
        ptq::methods::septq::importance_scores(w, quantizer.quantize(w, grid), prepared);
    ptq::methods::septq::global_top_mask(
        scores, ptq::methods::septq::kept_count(scores.numel(), options.keep_percent));
  });
  const double overhead = score_s / gptq_s;
  std::printf("%6lld %10.4f %10.4f %10.4f %10.3f %10.3f %s\n", static_cast<long long>(d), gptq_s,
              septq_s, score_s, overhead, septq_s / gptq_s - 1,
              overhead < kBudget ? "ok" : "OVER BUDGET");
  return overhead < kBudget;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"SEPTQ time per linear vs GPTQ on the same shapes"};
  ptq::bench::Dimensions dimensions;
  dimensions.add_options(app);
  CLI11_PARSE(app, argc, argv);
  ptq::set_log_level(ptq::LogLevel::Warning);

  std::printf(
      "threads %d; d x d linear, 3 bits per channel, MSE grid; SEPTQ keeps 1%%; "
      "budget: score/gptq < %.0f%%\n",
      at::get_num_threads(), 100 * kBudget);
  std::printf("%6s %10s %10s %10s %10s %10s\n", "d", "gptq_s", "septq_s", "score_s", "score/gptq",
              "total");
  bool within = true;
  for (int64_t d : dimensions.dims()) within = bench_dimension(d, dimensions.repeats) && within;
  return within ? 0 : 1;
}
