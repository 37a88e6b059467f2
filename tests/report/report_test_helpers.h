#pragma once
// Hand-made reports in the shapes `ptq quantize --report` and `ptq eval --report` write.

#include <nlohmann/json.hpp>
#include <string>

namespace ptq::report::test_helpers {

inline nlohmann::json quantize_report(const std::string& method,
                                      int bits,
                                      double bits_per_weight,
                                      const std::string& out,
                                      double perplexity) {
  return {{"settings",
           {{"method", method},
            {"wbits", bits},
            {"group_size", -1},
            {"abits", 16},
            {"keep_percent", 1.0},
            {"out", out}}},
          {"storage", {{"bits_per_weight", bits_per_weight}}},
          {"quantize_seconds", 1.5},
          {"eval", {{"dataset", "tokens:/data/samples-eval.i32"}, {"perplexity", perplexity}}}};
}

inline nlohmann::json eval_report(const std::string& model,
                                  const std::string& dataset,
                                  double perplexity) {
  return {{"perplexity", perplexity}, {"config", {{"model", model}, {"dataset", dataset}}}};
}

}  // namespace ptq::report::test_helpers
