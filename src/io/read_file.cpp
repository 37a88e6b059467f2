#include "io/read_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ptq/common/error.h"

namespace ptq::io {

std::string read_file_bytes(const std::string& path) {
  PTQ_CHECK_INPUT(std::filesystem::is_regular_file(path), "file not found: ", path);
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
