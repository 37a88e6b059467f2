#pragma once
// The options that quantization methods own (MethodEntry::options, ptq/methods/method.h) as
// CLI11 options: one option group per method, bound to a MethodOptions.

#include <CLI/CLI.hpp>
#include <string>

#include "ptq/methods/method.h"

namespace ptq::cli {

// Adds every registered method's options to `app`, in a group named after the method; each
// writes into `options`.
void add_method_options(CLI::App& app, quant::MethodOptions& options);

// Throws InputError for an option of another method than `method` given on the command line
// or in a recipe: it would be silently ignored.
void check_method_options(const CLI::App& app, const std::string& method);

}  // namespace ptq::cli
