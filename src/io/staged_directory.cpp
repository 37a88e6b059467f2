#include "io/staged_directory.h"

#include <unistd.h>

#include <system_error>

#include "ptq/common/error.h"

namespace ptq::io {
namespace {

namespace fs = std::filesystem;

void check_output_dir(const fs::path& out) {
  std::error_code error;
  if (fs::exists(out, error)) {
    PTQ_CHECK_INPUT(fs::is_directory(out, error), out.string(), " exists and is not a directory");
    PTQ_CHECK_INPUT(fs::is_empty(out, error), out.string(),
                    " exists and is not empty; refusing to overwrite it");
  }
  const fs::path parent = out.has_parent_path() ? out.parent_path() : fs::path(".");
  PTQ_CHECK_INPUT(fs::is_directory(parent, error), "cannot create ", out.string(), ": ",
                  parent.string(), " is not a directory");
}

}  // namespace

fs::path normalized_dir(const std::string& dir) {
  fs::path path = fs::path(dir).lexically_normal();
  return path.has_filename() ? path : path.parent_path();
}

StagedDirectory::StagedDirectory(const std::string& out_dir) : _target(normalized_dir(out_dir)) {
  check_output_dir(_target);
  _tmp = _target.string() + ".tmp-" + std::to_string(::getpid());
  std::error_code error;
  fs::remove_all(_tmp, error);  // left by a crashed run that had our pid
  PTQ_CHECK_INPUT(fs::create_directory(_tmp, error), "cannot create ", _tmp.string(), ": ",
                  error.message());
}

StagedDirectory::~StagedDirectory() {
  if (_committed) return;
  std::error_code error;
  fs::remove_all(_tmp, error);
}

void StagedDirectory::commit() {
  // rename() replaces an empty directory atomically and fails on a non-empty one.
  std::error_code error;
  fs::rename(_tmp, _target, error);
  PTQ_CHECK_INPUT(!error, "cannot rename ", _tmp.string(), " to ", _target.string(), ": ",
                  error.message());
  _committed = true;
}

}  // namespace ptq::io
