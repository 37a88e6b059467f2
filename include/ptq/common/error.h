#pragma once
// Errors raised by the ptq library.
//
// The library reports every failure as an exception carrying enough context to act on
// (the file, tensor or key at fault). Only the CLI's main() catches them and maps each
// kind to an exit code:
//   InputError    -> 2  bad user input: malformed files, configs, options, data sets
//   MemoryError   -> 3  a memory budget cannot be met
//   anything else -> 1  internal error or environment failure
//
//   PTQ_THROW_INPUT("tensor ", name, " not found in ", path);

#include <sstream>
#include <stdexcept>
#include <string>

namespace ptq {

class InputError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class MemoryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Exit codes of the ptq executable, documented in the README.
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,
  kExitInput = 2,
  kExitMemory = 3,
  kExitInterrupted = 130,
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace detail

}  // namespace ptq

#define PTQ_THROW_INPUT(...) throw ::ptq::InputError(::ptq::detail::concat(__VA_ARGS__))
#define PTQ_THROW_RUNTIME(...) throw ::std::runtime_error(::ptq::detail::concat(__VA_ARGS__))
#define PTQ_CHECK_INPUT(cond, ...)             \
  do {                                         \
    if (!(cond)) PTQ_THROW_INPUT(__VA_ARGS__); \
  } while (0)
