// ruquant_bench: RUQuant's cost relative to the GEMMs it wraps, measured in the same run on a
// random LLaMA (W4A4, the authors' settings: blocks of 128, 16 rotation steps, 3 permutation
// rounds; weights RTN with clip 0.8, activations per token with clip 0.9).
//
//  - stage 1 (--tune-epochs 0) for the whole model: `quantize_model` wall time vs the linears'
//    forward GEMMs of the calibration passes it makes (per layer: each of the 4 groups runs the
//    layer over all samples and over their mean, then one pass computes the layer outputs);
//  - stage 2 per layer per epoch: (time with --tune-epochs E - time of stage 1) / (layers x E),
//    which includes each layer's target pass and re-quantization, vs the GEMMs of its training
//    steps: per sample, each linear's forward product and the two backward ones (input and
//    weight gradients).
//
//   build/ruquant_bench [--threads 1] [--hidden 1024] [--layers 2] [--samples 4]
//                       [--seqlen 512] [--epochs 1]

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "bench_helpers.h"
#include "ptq/common/logging.h"
#include "ptq/pipeline/pipeline.h"
#include "random_llama.h"

namespace {

using ptq::bench::best_seconds;

struct BenchOptions {
  int threads = 1;
  ptq::bench::LlamaShape shape{/*hidden=*/1024, /*layers=*/2, /*vocab=*/1024, /*positions=*/512};
  int64_t samples = 4;
  int epochs = 1;
  int repeats = 3;
};

constexpr int kGroups = 4;  // q/k/v, o, gate/up, down

// The same random model for every run (quantization changes it in place).
std::unique_ptr<ptq::model::CausalLM> fresh_model(const BenchOptions& o) {
  at::manual_seed(0);
  return ptq::bench::random_llama(o.shape);
}

double seconds_to_quantize(const BenchOptions& o, const at::Tensor& ids, int tune_epochs) {
  const auto lm = fresh_model(o);
  ptq::quant::MethodOptions m;
  m.quantizer.bits = 4;
  m.quantizer.clip = 0.8;
  m.rotation.tune_epochs = tune_epochs;
  const auto method = ptq::quant::create_method("ruquant", m);
  ptq::quant::PipelineOptions p;
  p.activations = {4, 0.9};
  const auto start = std::chrono::steady_clock::now();
  ptq::quant::quantize_model(*lm, ids, *method, *method, p, {});
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct LayerGemms {
  double forward = 0;   // every linear of one layer on `tokens` tokens
  double backward = 0;  // their input and weight gradients
};

LayerGemms layer_gemms(const ptq::model::CausalLM& lm, int64_t tokens, int repeats) {
  LayerGemms t;
  for (const std::string& name : lm.linear_names(0)) {
    const at::Tensor& w = lm.weight(name + ".weight");
    const at::Tensor x = at::randn({tokens, w.size(1)});
    const at::Tensor g = at::randn({tokens, w.size(0)});
    t.forward += best_seconds(repeats, [&] { at::linear(x, w); });
    t.backward += best_seconds(repeats, [&] {
      at::mm(g, w);
      at::mm(g.t(), x);
    });
  }
  return t;
}

int run(const BenchOptions& o) {
  at::set_num_threads(o.threads);
  ptq::set_log_level(ptq::LogLevel::Warning);
  const auto& s = o.shape;
  std::printf(
      "random LLaMA hidden %lld, intermediate %lld, %lld layers; %lld samples x %lld "
      "tokens; %d thread(s)\n",
      static_cast<long long>(s.hidden),
      static_cast<long long>(ptq::bench::intermediate_size(s.hidden)),
      static_cast<long long>(s.layers), static_cast<long long>(o.samples),
      static_cast<long long>(s.positions), at::get_num_threads());
  const auto lm = fresh_model(o);
  const LayerGemms pass = layer_gemms(*lm, o.samples * s.positions, o.repeats);
  const LayerGemms sample = layer_gemms(*lm, s.positions, o.repeats);
  const at::Tensor ids = at::randint(s.vocab, {o.samples, s.positions}, at::kLong);

  const double stage1 = seconds_to_quantize(o, ids, 0);
  // Full passes per layer: one per group, one for the outputs; the mean sample's passes are
  // one sample each.
  const double passes = kGroups + 1 + static_cast<double>(kGroups) / o.samples;
  const double stage1_gemms = passes * pass.forward * s.layers;
  std::printf("stage 1, whole model:          %9.3f s  GEMMs %9.3f s  ratio %6.2f\n", stage1,
              stage1_gemms, stage1 / stage1_gemms);

  const double tuned = seconds_to_quantize(o, ids, o.epochs);
  const double stage2 = (tuned - stage1) / static_cast<double>(s.layers * o.epochs);
  const double stage2_gemms = (sample.forward + sample.backward) * o.samples;
  std::printf("stage 2, per layer per epoch:  %9.3f s  GEMMs %9.3f s  ratio %6.2f\n", stage2,
              stage2_gemms, stage2 / stage2_gemms);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"RUQuant stage 1 and stage 2 time vs the GEMMs they wrap"};
  BenchOptions o;
  app.add_option("--threads", o.threads, "LibTorch threads")->capture_default_str();
  app.add_option("--hidden", o.shape.hidden, "Model width (a multiple of 128)")
      ->capture_default_str();
  app.add_option("--layers", o.shape.layers, "Decoder layers")->capture_default_str();
  app.add_option("--samples", o.samples, "Calibration samples")->capture_default_str();
  app.add_option("--seqlen", o.shape.positions, "Tokens per sample")->capture_default_str();
  app.add_option("--epochs", o.epochs, "Stage 2 epochs")->capture_default_str();
  app.add_option("--repeats", o.repeats, "Timed runs per GEMM (best is kept)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return run(o);
}
