#include "io/read_file.h"
#include "ptq/common/error.h"
#include "ptq/data/dataset.h"

namespace ptq::data {

namespace {
constexpr std::string_view kTokenPrefix = "tokens:";
}  // namespace

bool is_token_spec(const std::string& spec) { return spec.rfind(kTokenPrefix, 0) == 0; }

std::string token_spec_path(const std::string& spec) {
  PTQ_CHECK_INPUT(is_token_spec(spec), "'", spec, "' is not a tokens:PATH data set");
  return spec.substr(kTokenPrefix.size());
}

TokenRows load_token_rows(const std::string& path, int64_t row_len) {
  PTQ_CHECK_INPUT(row_len > 0, "row length must be positive for ", path, ", got ", row_len);
  const std::string bytes = io::read_file_bytes(path);
  const auto row_bytes = static_cast<size_t>(row_len) * sizeof(int32_t);
  PTQ_CHECK_INPUT(!bytes.empty() && bytes.size() % row_bytes == 0, path, ": ", bytes.size(),
                  " bytes is not a whole number of rows of ", row_len, " int32 tokens");
  TokenRows rows;
  rows.row_len = row_len;
  rows.rows = static_cast<int64_t>(bytes.size() / row_bytes);
  rows.ids.resize(bytes.size() / sizeof(int32_t));
  for (size_t i = 0; i < rows.ids.size(); ++i) {
    // Little-endian by definition of the format, whatever the host order.
    uint32_t value = 0;
    for (size_t b = 0; b < 4; ++b) {
      value |= uint32_t{static_cast<uint8_t>(bytes[i * 4 + b])} << (8 * b);
    }
    rows.ids[i] = static_cast<int32_t>(value);
  }
  return rows;
}

}  // namespace ptq::data
