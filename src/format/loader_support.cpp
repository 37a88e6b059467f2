#include "ptq/format/loader_support.h"

namespace ptq::quant {
namespace {

// The loaders judged, as docs/format.md's table lists them; ptq itself reads everything it
// writes.
constexpr const char* kLoaders[] = {"AutoGPTQ", "GPTQModel", "Transformers", "vLLM"};

// The first few names, for a one-line message.
std::string name_list(const std::vector<std::string>& names) {
  constexpr size_t kShown = 3;
  std::string text;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > kShown) text += " and " + std::to_string(names.size() - kShown) + " more";
  return text;
}

// A GPTQ v1 or v2 checkpoint of loader bits and widths, without side tensors.
LoaderSupport plain_gptq(const std::string& loader, const QuantizationFormat& format) {
  const bool v1 = format.checkpoint_format == CheckpointFormat::GptqV1;
  if (v1 && !format.sym) {
    if (loader == "GPTQModel") {
      return {loader, LoaderVerdict::Refuses,
              "asymmetric \"gptq\" (v1) only from GPTQModel itself (v1 cannot store zero 0); "
              "write --checkpoint-format gptq_v2 for it"};
    }
    if (loader == "Transformers") {
      return {loader, LoaderVerdict::Loads,
              "with the AutoGPTQ backend; its GPTQModel backend refuses, as GPTQModel"};
    }
    return {loader, LoaderVerdict::Loads, ""};
  }
  if (v1) return {loader, LoaderVerdict::Loads, ""};
  // v2: qzeros hold the zero itself; a reader of v1 adds 1 to every zero.
  if (loader == "AutoGPTQ") {
    return {loader, LoaderVerdict::Misreads, "no \"gptq_v2\": it adds v1's + 1 to every zero"};
  }
  if (loader == "GPTQModel") return {loader, LoaderVerdict::Loads, ""};
  if (loader == "Transformers") {
    return {loader, LoaderVerdict::Loads,
            "with the GPTQModel backend; the AutoGPTQ backend adds v1's + 1 to every zero"};
  }
  return {loader, LoaderVerdict::Loads,
          "versions with \"gptq_v2\" support (vLLM pull request 26092); earlier ones add v1's "
          "+ 1 to every zero"};
}

LoaderSupport judge(const std::string& loader, const CheckpointTraits& traits) {
  const QuantizationFormat& format = traits.format;
  if (!gptq_loader_bits(format)) {
    return {loader, LoaderVerdict::Refuses,
            "quant_method \"ptq\": 5- to 7-bit codes in ptq's LSB-first stream, which GPTQ "
            "loaders do not read"};
  }
  if (!format.dynamic.empty() && loader == "AutoGPTQ") {
    return {loader, LoaderVerdict::Misreads,
            "ignores \"dynamic\": decodes every linear at the top-level bits and group size"};
  }
  if (!traits.unaligned_linears.empty()) {
    return {loader, LoaderVerdict::Refuses,
            "widths not multiples of 32 (padded by ptq): " + name_list(traits.unaligned_linears)};
  }
  if (traits.side_tensors) {
    if (loader == "vLLM") {
      return {loader, LoaderVerdict::Refuses,
              "its weight loading has no parameter for the side tensors (outlier_*/input_*)"};
    }
    return {loader, LoaderVerdict::Misreads,
            "ignores the side tensors: SEPTQ's kept weights or RUQuant's input transforms are "
            "lost"};
  }
  if (format.activations.enabled() || format.attention.enabled()) {
    return {loader, LoaderVerdict::Misreads,
            "loads the weights but does not quantize activations (meta.act_bits/attn_bits)"};
  }
  return plain_gptq(loader, format);
}

}  // namespace

bool loader_width(int64_t out_features, int64_t in_features) {
  return out_features % 32 == 0 && in_features % 32 == 0;
}

std::vector<LoaderSupport> loader_support(const CheckpointTraits& traits) {
  std::vector<LoaderSupport> support;
  for (const char* loader : kLoaders) support.push_back(judge(loader, traits));
  support.push_back({"ptq", LoaderVerdict::Loads, ""});
  return support;
}

const char* verdict_name(LoaderVerdict verdict) {
  switch (verdict) {
    case LoaderVerdict::Loads:
      return "loads";
    case LoaderVerdict::Refuses:
      return "refuses";
    case LoaderVerdict::Misreads:
      return "misreads";
  }
  return "";
}

nlohmann::json loader_support_json(const std::vector<LoaderSupport>& support) {
  nlohmann::json list = nlohmann::json::array();
  for (const LoaderSupport& s : support) {
    list.push_back({{"loader", s.loader}, {"verdict", verdict_name(s.verdict)}, {"why", s.why}});
  }
  return list;
}

}  // namespace ptq::quant
