#include "data/read_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "ptq/common/error.h"

namespace ptq::data {

std::string read_file_bytes(const std::string& path) {
  PTQ_CHECK_INPUT(std::filesystem::is_regular_file(path), "file not found: ", path);
  std::ifstream in(path, std::ios::binary);
  PTQ_CHECK_INPUT(in, "cannot open ", path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  PTQ_CHECK_INPUT(!in.bad(), "cannot read ", path);
  return bytes.str();
}

}  // namespace ptq::data
