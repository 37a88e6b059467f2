#include "loader_log.h"

#include <string>

#include "ptq/common/logging.h"

namespace ptq::cli {

void log_loader_support(const quant::CheckpointTraits& traits) {
  const quant::QuantizationFormat& format = traits.format;
  spdlog::info("checkpoint format {}, quant_method {}",
               quant::checkpoint_format_name(format.checkpoint_format),
               quant::gptq_loader_bits(format) ? "gptq" : "ptq");
  for (const quant::LoaderSupport& s : quant::loader_support(traits)) {
    const std::string why = s.why.empty() ? "" : ": " + s.why;
    if (s.verdict == quant::LoaderVerdict::Loads) {
      spdlog::info("  {} {}{}", s.loader, quant::verdict_name(s.verdict), why);
    } else {
      spdlog::warn("  {} {}{}", s.loader, quant::verdict_name(s.verdict), why);
    }
  }
  if (!traits.unaligned_linears.empty()) {
    std::string names;
    for (const std::string& name : traits.unaligned_linears) names += " " + name;
    spdlog::warn(
        "readable by ptq only: {} linears have a width not a multiple of 32, which ptq "
        "pads and GPTQ loaders refuse:{}",
        traits.unaligned_linears.size(), names);
  }
}

}  // namespace ptq::cli
