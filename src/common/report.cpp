#include "ptq/common/report.h"

#include <ATen/Parallel.h>
#include <torch/version.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "ptq/common/error.h"

namespace ptq {
namespace {
namespace fs = std::filesystem;

std::optional<std::string> first_line(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

// packed-refs lines are "<sha> <ref>"; refs are packed after `git gc`.
std::optional<std::string> packed_ref(const fs::path& git_dir, const std::string& ref) {
  std::ifstream in(git_dir / "packed-refs");
  std::string line;
  while (std::getline(in, line)) {
    const auto space = line.find(' ');
    if (space != std::string::npos && line.substr(space + 1) == ref) return line.substr(0, space);
  }
  return std::nullopt;
}

// The build tree sits inside the checkout, so the revision is found by walking up from the
// executable; reading .git directly avoids depending on a git binary at run time.
std::optional<std::string> git_revision() {
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (ec) return std::nullopt;
  for (; !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    const fs::path git_dir = dir / ".git";
    if (!fs::is_directory(git_dir)) continue;
    const auto head = first_line(git_dir / "HEAD");
    if (!head) return std::nullopt;
    const std::string prefix = "ref: ";
    if (head->rfind(prefix, 0) != 0) return head;  // detached HEAD holds the sha itself
    const std::string ref = head->substr(prefix.size());
    if (auto loose = first_line(git_dir / ref)) return loose;
    return packed_ref(git_dir, ref);
  }
  return std::nullopt;
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

}  // namespace

nlohmann::json report_versions() {
  nlohmann::json versions = {
      {"ptq", PTQ_VERSION},
      {"libtorch", TORCH_VERSION},
      {"host", host_name()},
      {"threads", at::get_num_threads()},
  };
  if (auto revision = git_revision()) versions["git_revision"] = *revision;
  return versions;
}

void write_text_file(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  std::error_code ec;
  {
    std::ofstream out(temp, std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      const int error = errno;  // a full disk or a file size limit: not half a file
      fs::remove(temp, ec);
      PTQ_THROW_INPUT(path, ": cannot write: ", std::strerror(error));
    }
  }
  fs::rename(temp, path, ec);
  if (ec) {
    const std::string reason = ec.message();
    fs::remove(temp, ec);
    PTQ_THROW_INPUT("cannot rename ", temp, " to ", path, ": ", reason);
  }
}

void check_output_file(const std::string& path, const std::string& option) {
  PTQ_CHECK_INPUT(!path.empty(), option, " is empty: give a file name");
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (status.type() != fs::file_type::not_found) {
    PTQ_CHECK_INPUT(!error, option, " ", path, ": ", error.message());
    PTQ_CHECK_INPUT(fs::is_regular_file(status), option, " ", path,
                    " exists and is not a regular file");
  }
  const fs::path file(path);
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  PTQ_CHECK_INPUT(fs::is_directory(dir, error), option, " ", path, ": ", dir.string(),
                  " is not a directory");
  PTQ_CHECK_INPUT(::access(dir.c_str(), W_OK) == 0, option, " ", path, ": cannot write in ",
                  dir.string(), ": ", std::strerror(errno));
}

void write_json_file(const std::string& path, const nlohmann::json& json) {
  write_text_file(path, json.dump(2) + "\n");
}

nlohmann::json json_number(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json();
}

}  // namespace ptq
