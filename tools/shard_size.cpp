#include "shard_size.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "ptq/common/error.h"

namespace ptq::cli {

uint64_t parse_size(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && (std::isdigit(text[digits]) || text[digits] == '.')) ++digits;
  PTQ_CHECK_INPUT(digits > 0, "--max-shard-size '", text, "' is not a size like 2GB or 500MiB");
  const double value = std::stod(text.substr(0, digits));
  std::string unit = text.substr(digits);
  std::transform(unit.begin(), unit.end(), unit.begin(), ::toupper);
  const std::pair<const char*, double> units[] = {
      {"", 1.0},   {"B", 1.0},      {"KB", 1e3},        {"MB", 1e6},
      {"GB", 1e9}, {"KIB", 1024.0}, {"MIB", 1048576.0}, {"GIB", 1073741824.0}};
  for (const auto& [name, factor] : units) {
    if (unit == name) return static_cast<uint64_t>(value * factor);
  }
  PTQ_THROW_INPUT("--max-shard-size '", text, "': unknown unit '", unit, "'");
}

}  // namespace ptq::cli
