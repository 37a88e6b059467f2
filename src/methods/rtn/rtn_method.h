#pragma once
// rtn: round-to-nearest on the GPTQ reference grid, group by group (gptq.py's --nearest).

#include <memory>

#include "ptq/methods/method.h"

namespace ptq::methods {

std::unique_ptr<quant::QuantMethod> make_rtn_method(const quant::MethodOptions& options);

}  // namespace ptq::methods
