#pragma once
// The measurement pass of a bit budget (bit_allocation.h): every linear quantized at every
// candidate setting, recording the error each leaves on the linear's output over the
// calibration inputs relative to that output, tr((W - Q) H (W - Q)^T) / tr(W H W^T)
// (relative_error.h: for gptq and septq from the sweep's own loss, sweep_output_error;
// docs/format.md says why relative), and its exact storage bits (storage_bits.h). A QuantMethod, so
// that the layer loop runs it like any method: the linears get the loop's Hessians, and the
// candidates of one linear share GPTQ's factorisation of its Hessian (SharedPreparation, gptq.h).
// The loop carries on with each linear at the candidate of most storage bits, the closest to full
// precision.
//
//   MeasuringMethod m("gptq", options, default_candidates("gptq"));
//   quantize_model(*lm, ids, m, rtn, pipeline, [](auto&&...) {});
//   Allocation a = allocate_bits(m.measured(), 3.5 * weights);

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "ptq/format/dynamic_settings.h"
#include "ptq/methods/method.h"
#include "ptq/pipeline/bit_allocation.h"

namespace ptq::quant {

// Bits 2, 3, 4, 5, 6, 8 x group size -1, 128, 64, 32; for septq each also at keep 0.5, 1 and 2%.
std::vector<LinearSetting> default_candidates(const std::string& method);

// The measurement file of `ptq quantize --measurement`: {"identity": what it was measured with,
// "linears": [{"module": M, "weights": N * K, "candidates": [{"bits": b, "group_size": g,
// ("keep_percent": p,) "storage_bits": s, "error": e}, ...]}, ...]}.
nlohmann::json measurement_json(const nlohmann::json& identity,
                                const std::vector<LinearCandidates>& linears);
// The linears of the measurement file `path`. Throws InputError naming `path` when its identity
// is not `identity` (naming the differing keys) or it is malformed.
std::vector<LinearCandidates> read_measurement(const std::string& path,
                                               const nlohmann::json& identity);

class MeasuringMethod : public QuantMethod {
 public:
  // Throws InputError for no candidates, a method other than rtn, gptq and septq, or a
  // candidate's keep_percent for a method other than septq.
  MeasuringMethod(const std::string& name,
                  const MethodOptions& options,
                  const std::vector<LinearSetting>& candidates);

  std::string name() const override { return _methods.front().second->name(); }
  bool needs_hessian() const override { return true; }
  QuantizedLinear quantize_linear(const std::string& module,
                                  const at::Tensor& weight,
                                  const LinearStats& stats) override;

  // The linears measured so far, in the order quantized.
  std::vector<LinearCandidates> measured() const;

  // The linears measured so far, so that an interrupted measurement resumes (resume_checkpoint.h):
  // per linear i, "<i> <module>" -> fp64 [candidates, 5] (bits, group size, keep percent,
  // storage bits, error)
  // and "<i> <module> weights" -> int64 [1], i zero-padded to six digits (map order = order).
  std::map<std::string, at::Tensor> layer_state() const override;
  // Throws InputError for a state this method's candidates could not have written.
  void restore_layer_state(const std::map<std::string, at::Tensor>& state) override;

 private:
  std::vector<std::pair<LinearSetting, std::unique_ptr<QuantMethod>>> _methods;
  mutable std::mutex _mutex;
  std::vector<LinearCandidates> _measured;
};

}  // namespace ptq::quant
