#pragma once
// gptq: the reference GPTQ algorithm (gptq.py fasterquant) on each linear's Hessian.

#include <memory>

#include "ptq/quant/method.h"

namespace ptq::methods {

std::unique_ptr<quant::QuantMethod> make_gptq_method(const quant::MethodOptions& options);

}  // namespace ptq::methods
