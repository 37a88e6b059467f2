#pragma once
// toy: a quantization method that only the test binary registers, to show that a method
// outside the library needs its folder and one register_method call (docs/methods.md). It
// shrinks each weight toward zero by --toy-shrink, then rounds it to nearest (rtn).

#include "ptq/methods/method.h"

namespace ptq::test {

// name "toy", its factory (InputError for --toy-shrink outside [0, 1)) and --toy-shrink.
quant::MethodEntry toy_method_entry();

}  // namespace ptq::test
