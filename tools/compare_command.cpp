// ptq compare: per-layer and per-tensor weight differences between two checkpoints of one
// architecture (quantized linears dequantized), for debugging a quantization.

#include <cstdio>
#include <memory>
#include <string>

#include "command.h"
#include "ptq/common/error.h"
#include "ptq/common/report.h"
#include "ptq/eval/weight_diff.h"

namespace ptq::cli {
namespace {

struct CompareOptions {
  std::string a;
  std::string b;
  bool tensors = false;
  std::string report;
};

std::string layer_name(int64_t index) {
  return index < 0 ? std::string("global") : "layer " + std::to_string(index);
}

void print_table(const eval::WeightDiff& diff, bool tensors) {
  std::printf("%-48s %14s %14s\n", tensors ? "tensor" : "layer", "max |A-B|", "||A-B||/||A||");
  for (const eval::LayerDiff& layer : diff.layers) {
    if (!tensors) {
      std::printf("%-48s %14.6g %14.6g\n", layer_name(layer.index).c_str(), layer.max_abs,
                  layer.relative_frobenius);
      continue;
    }
    for (const eval::TensorDiff& t : layer.tensors) {
      std::printf("%-48s %14.6g %14.6g\n", t.name.c_str(), t.max_abs, t.relative_frobenius);
    }
  }
  std::printf("%-48s %14.6g %14.6g\n", "all", diff.max_abs, diff.relative_frobenius);
}

nlohmann::json diff_json(const eval::WeightDiff& diff) {
  nlohmann::json layers = nlohmann::json::array();
  for (const eval::LayerDiff& layer : diff.layers) {
    nlohmann::json tensors = nlohmann::json::array();
    for (const eval::TensorDiff& t : layer.tensors) {
      tensors.push_back({{"name", t.name},
                         {"shape", t.shape},
                         {"max_abs", t.max_abs},
                         {"relative_frobenius", t.relative_frobenius}});
    }
    layers.push_back({{"layer", layer.index},
                      {"max_abs", layer.max_abs},
                      {"relative_frobenius", layer.relative_frobenius},
                      {"tensors", tensors}});
  }
  return {{"architecture", diff.architecture},
          {"max_abs", diff.max_abs},
          {"relative_frobenius", diff.relative_frobenius},
          {"layers", layers}};
}

int run_compare(const CompareOptions& options) {
  const eval::WeightDiff diff = eval::diff_weights(options.a, options.b);
  print_table(diff, options.tensors);
  if (!options.report.empty()) {
    nlohmann::json report = diff_json(diff);
    report["a"] = options.a;
    report["b"] = options.b;
    report["versions"] = report_versions();
    write_json_file(options.report, report);
  }
  return kExitOk;
}

}  // namespace

Command add_compare_command(CLI::App& parent) {
  auto options = std::make_shared<CompareOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "compare",
      "Weight differences between two checkpoints of one architecture, per layer (or per "
      "tensor): max |A-B| and ||A-B||_F / ||A||_F; quantized linears are dequantized");
  CLI::App& app = *command.app;
  app.add_option("A", options->a, "Reference model directory")->required();
  app.add_option("B", options->b, "Model directory compared with it")->required();
  app.add_flag("--tensors", options->tensors, "One row per tensor instead of per layer");
  add_report_option(app, &options->report, "Also write every tensor's differences as JSON here");
  command.run = [options] { return run_compare(*options); };
  return command;
}

}  // namespace ptq::cli
