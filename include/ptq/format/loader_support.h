#pragma once
// Which model loaders serve a checkpoint ptq writes, as far as their loading code shows
// (docs/format.md, "Which loaders read what"), for the quantize log and report and
// `ptq inspect`:
//
//   CheckpointTraits traits{format, {"model.layers.0.mlp.down_proj"}, /*side_tensors=*/false};
//   for (const LoaderSupport& s : loader_support(traits)) {
//     spdlog::info("{} {}: {}", s.loader, verdict_name(s.verdict), s.why);
//   }

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ptq/format/quantized_checkpoint.h"

namespace ptq::quant {

enum class LoaderVerdict {
  Loads,     // reads the weights ptq evaluates
  Refuses,   // stops with an error
  Misreads,  // loads, but computes something else than ptq evaluates
};

struct LoaderSupport {
  std::string loader;  // "AutoGPTQ", "GPTQModel", "Transformers", "vLLM", "ptq"
  LoaderVerdict verdict = LoaderVerdict::Loads;
  std::string why;  // the reason, or the versions it depends on; empty when plain
};

// What decides whether a loader reads a checkpoint.
struct CheckpointTraits {
  QuantizationFormat format;
  // Quantized linears with a width (inputs or outputs) not a multiple of 32, which ptq pads
  // (gptq_packing.h) and loaders do not accept.
  std::vector<std::string> unaligned_linears;
  // Tensors beside the GPTQ ones (SEPTQ's .outlier_idx/.outlier_val, RUQuant's input_*).
  bool side_tensors = false;
};

// Whether loaders accept a linear of this shape: both widths multiples of 32.
bool loader_width(int64_t out_features, int64_t in_features);

// One entry per loader, in the order above.
std::vector<LoaderSupport> loader_support(const CheckpointTraits& traits);

// "loads", "refuses", "misreads".
const char* verdict_name(LoaderVerdict verdict);

// [{"loader", "verdict", "why"}, ...] for the JSON report and `ptq inspect --json`.
nlohmann::json loader_support_json(const std::vector<LoaderSupport>& support);

}  // namespace ptq::quant
