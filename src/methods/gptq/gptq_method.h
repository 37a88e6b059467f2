#pragma once
// gptq: the reference GPTQ algorithm (gptq.py fasterquant) on each linear's Hessian.

#include <memory>

#include "ptq/methods/method.h"
#include "ptq/quant/gptq.h"

namespace ptq::methods {

// The GPTQ settings of the shared method options (also SEPTQ's, a GPTQ variant).
quant::GptqConfig gptq_config(const quant::MethodOptions& options);

// prepare_hessian of stats.hessian: in its own storage when stats.hessian_consumable, else
// through stats.shared when the pipeline gave one.
quant::PreparedHessian prepared_hessian(const quant::LinearStats& stats,
                                        const quant::GptqConfig& config);

std::unique_ptr<quant::QuantMethod> make_gptq_method(const quant::MethodOptions& options);

}  // namespace ptq::methods
