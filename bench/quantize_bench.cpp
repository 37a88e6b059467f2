// quantize_bench: the whole quantization of one decoder layer (rtn, gptq, septq, ruquant stage 1)
// against a FLOP model computed in the same run from the measured GEMM rate, and of the real
// stories260K against RTN and one forward pass of its calibration set.
//
// Random LLaMA layer (7B: hidden 4096, ffn 11008; 1B: hidden 2048, ffn 5632; 32 heads, vocab
// 32000, fp32), per method:
//  - time of quantize_model, and per phase: load (reading the checkpoint), forward (the layer
//    passes the pipeline makes, at one full pass timed outside it, a prefix pass at its FLOP
//    share of it), Hessian (add_batch of every linear's inputs, timed outside it), solve (the
//    pipeline's per-linear seconds: the method plus, unless --no-relative-error, its
//    relative-error diagnostic) and the rest;
//  - the FLOP model: what the method needs, at the GEMM rate of the layer's own linears: the
//    prefix of the layer each true-sequential group's inputs need plus one full pass for the
//    outputs, one Hessian per distinct input (2 T K^2), per distinct Hessian a Cholesky and a
//    triangular inverse (2/3 K^3, src/quant/gptq.cpp), and per linear the lazy updates (N K^2);
//  - peak RSS of the run (VmHWM, reset before it) next to the analytic bound: the process's RSS
//    before loading (libraries) plus the fp32 layer, embeddings and lm_head, the largest group's
//    Hessians and both activation buffers.
// Settings as configs/: 4 bits, group 128 (septq per channel), ruquant W4A4 stage 1.
// stories260K (--stories, the shared model and calibration rows): gptq vs rtn + one forward
// pass of the calibration set, with user/system time and minor page faults of each.
// --measure: instead of the above, the `--target-bits` measurement pass as
// tools/quantize_command.cpp runs it (gptq at every default candidate,
// src/pipeline/linear_measurement.cpp; no relative-error diagnostic, layers unloaded) against
// one plain gptq run (4 bits, group 128) of the same model and calibration in the same process,
// wall and CPU seconds, on stories260K and each layer shape.
//
//   build/bench/quantize_bench [--shapes 7b,1b] [--quick] [--threads 2] [--methods ...]
//                              [--hidden H --intermediate F] [--stories DIR --calib FILE]
//                              [--no-relative-error] [--cpu-time] [--measure]
// --cpu-time: the layer's times (GEMM rate, layer pass, Hessians, load, total) in process CPU
// seconds, for a machine shared with other jobs (run it with --threads 1); the solve column
// stays the pipeline's wall seconds per linear, and stories260K reports wall and CPU anyway.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "bench_helpers.h"
#include "ptq/common/heap.h"
#include "ptq/common/logging.h"
#include "ptq/data/dataset.h"
#include "ptq/pipeline/linear_measurement.h"
#include "ptq/pipeline/pipeline.h"
#include "random_llama.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using ptq::bench::best_seconds;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct BenchOptions {
  int threads = 2;
  std::vector<std::string> shapes = {"7b", "1b"};
  std::vector<std::string> methods = {"rtn", "gptq", "septq", "ruquant"};
  int64_t hidden = 0;  // a custom shape instead of --shapes
  int64_t intermediate = 0;
  int64_t samples = 8;
  int64_t seqlen = 512;
  bool quick = false;
  bool relative_error = true;  // the pipeline's per-linear diagnostic (PipelineOptions)
  std::string stories = "../shared/models/stories260K-hf";
  std::string calib = "../shared/models/stories260K/samples-calib-128x512-seed1.i32";
  int64_t stories_samples = 128;
  bool measure = false;  // the --target-bits measurement pass against one gptq run
};

// A /proc/self/status field in bytes: VmHWM is the peak RSS since the last reset_peak_rss().
int64_t status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == field) {
      int64_t kb = 0;
      status >> kb;
      return kb * 1024;
    }
    status.ignore(1 << 10, '\n');
  }
  return -1;
}

void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

struct Usage {
  double user = 0, system = 0;
  int64_t minor_faults = 0;
};

Usage usage_now() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return {u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6,
          u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6, u.ru_minflt};
}

Usage operator-(const Usage& a, const Usage& b) {
  return {a.user - b.user, a.system - b.system, a.minor_faults - b.minor_faults};
}

ptq::quant::MethodOptions method_options(const std::string& method) {
  ptq::quant::MethodOptions m;
  m.quantizer.bits = 4;
  m.group_size = method == "septq" ? -1 : 128;      // configs/: septq-w*.json, gptq-w4g128.json
  if (method == "ruquant") m.quantizer.clip = 0.8;  // W4A4 as ruquant_bench
  return m;
}

ptq::quant::PipelineOptions pipeline_options(const BenchOptions& o, const std::string& method) {
  ptq::quant::PipelineOptions p;
  p.relative_error = o.relative_error;
  if (method == "ruquant") p.activations = {4, 0.9};
  return p;
}

// quantize_model with RTN as the fallback of a linear whose method fails, as `ptq quantize`
// (tools/quantize_command.cpp): a fallback that needs no Hessian lets the pipeline hand a
// Hessian of one linear to the method to factorise in place (LinearStats::hessian_consumable).
ptq::quant::PipelineResult quantize(ptq::model::CausalLM& lm,
                                    const at::Tensor& ids,
                                    ptq::quant::QuantMethod& q,
                                    const BenchOptions& o,
                                    const std::string& method) {
  const auto rtn = ptq::quant::create_method("rtn", method_options(method));
  return ptq::quant::quantize_model(lm, ids, q, *rtn, pipeline_options(o, method), {});
}

struct Shape {
  int64_t h, f, s, n, vocab;
  int64_t tokens() const { return n * s; }
};

// FLOPs of the layer's pieces on all calibration tokens.
struct LayerFlops {
  double qkv, attention, o, gate_up, down;
  double full() const { return qkv + attention + o + gate_up + down; }
};

LayerFlops layer_flops(const Shape& x) {
  const double t = static_cast<double>(x.tokens());
  // Causal attention: QK^T and PV over the visible half of s x s, per sample.
  return {2 * t * 3 * x.h * x.h, 2.0 * x.n * x.s * x.s * x.h, 2 * t * x.h * x.h,
          2 * t * 2 * x.h * x.f, 2 * t * x.h * x.f};
}

// What each method needs, in FLOPs (see the header comment).
struct FlopModel {
  double forward = 0, hessian = 0, solve = 0;
  double total() const { return forward + hessian + solve; }
};

FlopModel flop_model(const std::string& method, const Shape& x) {
  FlopModel m;
  if (method == "rtn") return m;
  const LayerFlops l = layer_flops(x);
  const double t = static_cast<double>(x.tokens());
  const double h = static_cast<double>(x.h), f = static_cast<double>(x.f);
  // Inputs of o, gate/up and down need the layer up to them; q/k/v only the norm.
  m.forward = (l.qkv + l.attention) + (l.qkv + l.attention + l.o) +
              (l.qkv + l.attention + l.o + l.gate_up) + l.full();
  if (method == "ruquant") {
    // Stage 1 needs the same inputs (their statistics, no Hessian) and RTN weights.
    return m;
  }
  m.hessian = 2 * t * (3 * h * h + f * f);
  const double factor = 2.0 / 3.0;
  // One factorisation per distinct Hessian (q/k/v share one, gate/up another).
  m.solve = 2 * factor * h * h * h + 4 * h * h * h +  // q/k/v's and o's; their updates
            factor * h * h * h + 2 * f * h * h +      // gate/up's; their updates
            factor * f * f * f + h * f * f;           // down
  return m;
}

// GFLOP/s of the layer's own linears on all calibration tokens (one sample's worth when
// quick), the rate the FLOP model is priced at.
double gemm_rate(const ptq::model::CausalLM& lm, int64_t tokens) {
  double flops = 0, seconds = 0;
  for (const std::string& name : lm.linear_names(0)) {
    const at::Tensor& w = lm.weight(name + ".weight");
    const at::Tensor x = at::randn({tokens, w.size(1)});
    seconds += best_seconds(2, [&] { at::linear(x, w); });
    flops += 2.0 * tokens * w.size(0) * w.size(1);
  }
  return flops / seconds;
}

// One pass of layer 0 over all samples, a sample at a time (the pipeline's batch at 1B/7B).
double forward_seconds(const ptq::model::CausalLM& lm, const at::Tensor& hidden) {
  const double start = ptq::bench::now_seconds();
  const ptq::BatchHeap reuse;
  for (int64_t i = 0; i < hidden.size(0); ++i) {
    lm.forward_layer(0, hidden.slice(0, i, i + 1), 0, nullptr, nullptr);
  }
  return ptq::bench::now_seconds() - start;
}

// add_batch of every linear's inputs (a random stand-in of the right width) for all samples.
double hessian_seconds(const ptq::model::CausalLM& lm, const Shape& x) {
  const double start = ptq::bench::now_seconds();
  for (const std::string& name : lm.linear_names(0)) {
    const int64_t k = lm.weight(name + ".weight").size(1);
    ptq::quant::HessianAccumulator acc(k);
    const at::Tensor input = at::randn({1, x.s, k});
    for (int64_t i = 0; i < x.n; ++i) acc.add_batch(input);
  }
  return ptq::bench::now_seconds() - start;
}

// Layer passes quantize_model makes per method. A Hessian pass stops each batch at its
// group's last input: q/k/v's after the q and k products, o's after the attention, gate/up's
// after the gate product, down's before its own; one full pass gives the outputs. ruquant
// (stage 1, RTN weights: no Hessians) runs each group fully over the samples and their mean.
double pipeline_passes(const std::string& method, const Shape& x) {
  if (method == "rtn") return 0;
  if (method == "ruquant") return 5 + 4.0 / static_cast<double>(x.n);
  const LayerFlops l = layer_flops(x);
  const double attention = l.qkv + l.attention;
  return (2 * l.qkv / 3 + attention + (attention + l.o + l.gate_up / 2) +
          (attention + l.o + l.gate_up) + l.full()) /
         l.full();
}

double bound_bytes(const Shape& x) {
  const double h = static_cast<double>(x.h), f = static_cast<double>(x.f);
  const double layer = 4 * h * h + 3 * h * f;
  const double global = 2.0 * x.vocab * h;
  const double hessians = std::max(3 * h * h, f * f);
  const double activations = 2.0 * x.tokens() * h;
  return 4 * (layer + global + hessians + activations);
}

struct Run {
  double wall = 0;
  Usage usage;
  double cpu() const { return usage.user + usage.system; }
};

// The measurement pass against one plain gptq run (see the header comment), each on a fresh
// load of the model in DIR.
void bench_measurement(const BenchOptions& o,
                       const std::string& label,
                       const std::string& dir,
                       const at::Tensor& ids) {
  const auto timed = [&](ptq::quant::QuantMethod& q, const ptq::quant::PipelineOptions& p) {
    const auto lm = ptq::model::load_causal_lm(dir);
    const auto rtn = ptq::quant::create_method("rtn", method_options("rtn"));
    const Usage before = usage_now();
    const auto start = Clock::now();
    ptq::quant::quantize_model(*lm, ids, q, *rtn, p, {});
    return Run{since(start), usage_now() - before};
  };
  const auto gptq = ptq::quant::create_method("gptq", method_options("gptq"));
  const Run plain = timed(*gptq, pipeline_options(o, "gptq"));
  const std::vector<ptq::quant::LinearSetting> candidates = ptq::quant::default_candidates("gptq");
  ptq::quant::MeasuringMethod measuring("gptq", method_options("gptq"), candidates);
  ptq::quant::PipelineOptions p = pipeline_options(o, "gptq");
  p.relative_error = false;
  p.unload_layers = true;
  const Run measure = timed(measuring, p);
  std::printf(
      "%s: gptq %.2f s wall, %.2f s CPU; measurement (%zu candidates) %.2f s wall, %.2f s CPU; "
      "measurement / gptq = %.2f wall, %.2f CPU (target <= 3)\n",
      label.c_str(), plain.wall, plain.cpu(), candidates.size(), measure.wall, measure.cpu(),
      measure.wall / plain.wall, measure.cpu() / plain.cpu());
}

void bench_layer(const BenchOptions& o,
                 const std::string& label,
                 int64_t hidden,
                 int64_t intermediate) {
  const Shape x{hidden, intermediate, o.seqlen, o.samples, 32000};
  const fs::path dir =
      fs::temp_directory_path() / ("ptq-quantize-bench-" + std::to_string(getpid()));
  at::manual_seed(0);
  ptq::bench::LlamaShape shape{hidden, /*layers=*/1, x.vocab, o.seqlen, intermediate};
  ptq::bench::write_random_llama(dir, shape);
  const at::Tensor ids = at::randint(x.vocab, {x.n, x.s}, at::kLong);
  std::printf("\n%s layer: hidden %lld, ffn %lld, %lld heads; %lld x %lld calibration tokens\n",
              label.c_str(), static_cast<long long>(x.h), static_cast<long long>(x.f),
              static_cast<long long>(x.h / 64), static_cast<long long>(x.n),
              static_cast<long long>(x.s));
  if (o.measure) {
    bench_measurement(o, label + " layer", dir.string(), ids);
    fs::remove_all(dir);
    return;
  }
  double rate = 0, forward = 0, hessian = 0;
  {
    const auto lm = ptq::model::load_causal_lm(dir.string());
    rate = gemm_rate(*lm, o.quick ? x.s : x.tokens());
    forward = forward_seconds(*lm, lm->embed(ids, 0));
    hessian = hessian_seconds(*lm, x);
  }
  const double baseline = static_cast<double>(status_bytes("VmRSS:"));
  std::printf(
      "GEMM rate %.1f GFLOP/s; one layer pass %.2f s; all Hessians %.2f s; RSS before load %.0f "
      "MB\n",
      rate / 1e9, forward, hessian, baseline / (1 << 20));
  std::printf("%-8s %8s %8s %6s | %6s %7s %7s %7s %7s | %8s %8s %5s\n", "method", "total_s",
              "model_s", "ratio", "load", "forward", "hessian", "solve", "other", "rss_MB",
              "bound_MB", "ratio");
  for (const std::string& method : o.methods) {
    reset_peak_rss();
    const double start = ptq::bench::now_seconds();
    const auto lm = ptq::model::load_causal_lm(dir.string());
    const double load = ptq::bench::now_seconds() - start;
    const auto q = ptq::quant::create_method(method, method_options(method));
    const ptq::quant::PipelineResult r = quantize(*lm, ids, *q, o, method);
    const double total = ptq::bench::now_seconds() - start;
    double solve = 0;
    for (const auto& layer : r.layers) {
      for (const auto& linear : layer.linears) solve += linear.seconds;
    }
    const double passes = pipeline_passes(method, x) * forward;
    const double hessians = q->needs_hessian() ? hessian : 0;
    const double model = flop_model(method, x).total() / rate;
    const double rss = static_cast<double>(status_bytes("VmHWM:"));
    const double bound = baseline + bound_bytes(x);
    std::printf("%-8s %8.2f %8.2f %6.2f | %6.2f %7.2f %7.2f %7.2f %7.2f | %8.0f %8.0f %5.2f\n",
                method.c_str(), total, model, model > 0 ? total / model : 0.0, load, passes,
                hessians, solve, total - load - passes - hessians - solve, rss / (1 << 20),
                bound / (1 << 20), rss / bound);
  }
  fs::remove_all(dir);
}

Run quantize_stories(const BenchOptions& o, const at::Tensor& ids, const std::string& method) {
  const auto lm = ptq::model::load_causal_lm(o.stories);
  const auto q = ptq::quant::create_method(method, method_options(method));
  const Usage before = usage_now();
  const auto start = Clock::now();
  quantize(*lm, ids, *q, o, method);
  return {since(start), usage_now() - before};
}

void bench_stories(const BenchOptions& o) {
  const int64_t samples = o.quick ? 16 : o.stories_samples;
  const ptq::data::TokenRows rows = ptq::data::load_token_rows(o.calib, 512);
  const at::Tensor ids =
      at::from_blob(const_cast<int32_t*>(rows.ids.data()), {rows.rows, rows.row_len}, at::kInt)
          .slice(0, 0, samples)
          .to(at::kLong);
  std::printf("\nstories260K whole model, %lld x 512 calibration tokens\n",
              static_cast<long long>(samples));
  if (o.measure) return bench_measurement(o, "stories260K", o.stories, ids);
  // One forward pass of the calibration set through the model, batch 3 as the pipeline's.
  const auto lm = ptq::model::load_causal_lm(o.stories);
  const Usage before = usage_now();
  const auto start = Clock::now();
  {
    const ptq::BatchHeap reuse;
    for (int64_t b = 0; b < samples; b += 3) {
      at::Tensor hidden = lm->embed(ids.slice(0, b, std::min(b + 3, samples)), 0);
      for (int64_t i = 0; i < lm->num_layers(); ++i) {
        hidden = lm->forward_layer(i, hidden, 0, nullptr, nullptr);
      }
    }
  }
  const double forward = since(start);
  const Usage forward_usage = usage_now() - before;
  const Run rtn = quantize_stories(o, ids, "rtn");
  std::printf("%-6s %8s %8s %8s %10s %8s\n", "method", "wall_s", "user_s", "sys_s", "minflt",
              "sys/wall");
  for (const std::string& method : {std::string("rtn"), std::string("gptq")}) {
    const Run r = method == "rtn" ? rtn : quantize_stories(o, ids, method);
    std::printf("%-6s %8.2f %8.2f %8.2f %10lld %8.3f\n", method.c_str(), r.wall, r.usage.user,
                r.usage.system, static_cast<long long>(r.usage.minor_faults),
                r.usage.system / r.wall);
    if (method == "gptq") {
      const auto cpu = [](const Usage& u) { return u.user + u.system; };
      std::printf(
          "gptq / (rtn + one forward pass %.2f s wall, %.2f s CPU) = %.2f wall, %.2f CPU "
          "(target <= 5)\n",
          forward, cpu(forward_usage), r.wall / (rtn.wall + forward),
          cpu(r.usage) / (cpu(rtn.usage) + cpu(forward_usage)));
    }
  }
}

int run(const BenchOptions& o) {
  at::set_num_threads(o.threads);
  ptq::set_log_level(ptq::LogLevel::Warning);
  ptq::bound_heap();  // as tools/main.cpp
  std::printf("threads %d%s\n", at::get_num_threads(), o.quick ? "; quick" : "");
  const std::map<std::string, std::pair<int64_t, int64_t>> known = {{"7b", {4096, 11008}},
                                                                    {"1b", {2048, 5632}}};
  if (o.hidden > 0) {
    bench_layer(o, "custom", o.hidden,
                o.intermediate > 0 ? o.intermediate : ptq::bench::intermediate_size(o.hidden));
  } else {
    for (const std::string& name : o.shapes) {
      if (name.empty()) continue;  // --shapes '': stories260K only
      const auto it = known.find(name);
      if (it == known.end()) {
        std::fprintf(stderr, "unknown shape %s (7b, 1b)\n", name.c_str());
        return 2;
      }
      bench_layer(o, name, it->second.first, it->second.second);
    }
  }
  if (!o.stories.empty()) bench_stories(o);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Whole-layer and whole-model quantization time vs a FLOP model"};
  BenchOptions o;
  app.add_option("--threads", o.threads, "LibTorch threads")->capture_default_str();
  ptq::bench::add_timer_option(app);
  app.add_option("--shapes", o.shapes, "Layer shapes: 7b, 1b ('' for none)")->delimiter(',');
  app.add_option("--methods", o.methods, "rtn, gptq, septq, ruquant")->delimiter(',');
  app.add_option("--hidden", o.hidden, "A custom layer width instead of --shapes");
  app.add_option("--intermediate", o.intermediate, "Its MLP width (default LLaMA's ratio)");
  app.add_option("--samples", o.samples, "Calibration samples")->capture_default_str();
  app.add_option("--seqlen", o.seqlen, "Tokens per sample")->capture_default_str();
  app.add_flag("--quick", o.quick,
               "2 calibration samples per layer, 16 for stories260K: a run of a few minutes");
  app.add_flag("!--no-relative-error", o.relative_error,
               "Skip the pipeline's per-linear relative-error diagnostic (part of solve)");
  app.add_option("--stories", o.stories, "stories260K HF directory ('' skips it)")
      ->capture_default_str();
  app.add_option("--calib", o.calib, "its calibration token rows (int32, 512 per row)")
      ->capture_default_str();
  app.add_flag("--measure", o.measure,
               "The --target-bits measurement pass against one gptq run instead");
  CLI11_PARSE(app, argc, argv);
  if (o.quick) o.samples = 2;
  return run(o);
}
