#include "io/read_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ptq/common/error.h"

namespace ptq::io {

namespace fs = std::filesystem;

void check_regular_file(const std::string& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  PTQ_CHECK_INPUT(status.type() != fs::file_type::not_found, "file not found: ", path);
  PTQ_CHECK_INPUT(!error, "cannot read ", path, ": ", error.message());
  PTQ_CHECK_INPUT(fs::is_regular_file(status), path, " is not a regular file (",
                  fs::is_directory(status) ? "a directory"
                  : fs::is_fifo(status)    ? "a FIFO"
                  : fs::is_socket(status)  ? "a socket"
                                           : "a device",
                  ")");
}

std::string read_file_bytes(const std::string& path) {
  check_regular_file(path);
  std::ifstream in(path, std::ios::binary);
  PTQ_CHECK_INPUT(in, "cannot open ", path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  PTQ_CHECK_INPUT(!in.bad(), "cannot read ", path);
  return bytes.str();
}

nlohmann::json read_json_file(const std::string& path) {
  const std::string text = read_file_bytes(path);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse errors and out-of-range numbers
    PTQ_THROW_INPUT(path, ": not valid JSON: ", e.what());
  }
}

}  // namespace ptq::io
