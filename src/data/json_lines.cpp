#include "data/json_lines.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "ptq/common/error.h"

namespace ptq::data {
namespace {

// gzread passes files without a gzip header through unchanged, so one reader serves both.
std::string read_maybe_gzipped(const std::string& path) {
  PTQ_CHECK_INPUT(std::filesystem::is_regular_file(path), "file not found: ", path);
  std::unique_ptr<gzFile_s, decltype(&gzclose)> file(gzopen(path.c_str(), "rb"), &gzclose);
  PTQ_CHECK_INPUT(file, "cannot open ", path);
  std::string bytes;
  char buffer[1 << 16];
  int read = 0;
  while ((read = gzread(file.get(), buffer, sizeof(buffer))) > 0) bytes.append(buffer, read);
  int error = Z_OK;
  const char* message = gzerror(file.get(), &error);
  PTQ_CHECK_INPUT(read == 0 && (error == Z_OK || error == Z_STREAM_END), "cannot decompress ", path,
                  ": ", message);
  return bytes;
}

std::string record_text(const std::string& line, const std::string& path, size_t number) {
  nlohmann::json record;
  try {
    record = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {  // parse errors and out-of-range numbers
    PTQ_THROW_INPUT(path, ":", number, ": malformed JSON line: ", e.what());
  }
  PTQ_CHECK_INPUT(record.is_object() && record.contains("text") && record["text"].is_string(), path,
                  ":", number, ": record has no \"text\" string");
  return record["text"].get<std::string>();
}

}  // namespace

std::vector<std::string> read_json_lines_text(const std::string& path) {
  const std::string bytes = read_maybe_gzipped(path);
  std::vector<std::string> texts;
  size_t number = 0;
  for (size_t start = 0; start < bytes.size();) {
    const size_t end = std::min(bytes.find('\n', start), bytes.size());
    const std::string line = bytes.substr(start, end - start);
    ++number;
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    texts.push_back(record_text(line, path, number));
  }
  return texts;
}

}  // namespace ptq::data
