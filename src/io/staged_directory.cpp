#include "io/staged_directory.h"

#include <unistd.h>

#include <system_error>

#include "ptq/common/error.h"

namespace ptq::io {
namespace {

namespace fs = std::filesystem;

void check_output_dir(const fs::path& out) {
  const std::string name = out.filename().string();
  PTQ_CHECK_INPUT(!name.empty() && name != "." && name != "..", "output directory '", out.string(),
                  "' does not name a directory to create");
  std::error_code error;
  const fs::file_status link = fs::symlink_status(out, error);
  PTQ_CHECK_INPUT(!error || link.type() == fs::file_type::not_found, "cannot use ", out.string(),
                  ": ", error.message());
  // rename() would replace the link, not fill the folder it points to.
  PTQ_CHECK_INPUT(!fs::is_symlink(link), out.string(),
                  " is a symbolic link: give the directory it points to (",
                  fs::read_symlink(out, error).string(), ") instead");
  if (fs::exists(link)) {
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

fs::path staging_dir(const fs::path& target, int64_t pid) {
  return target.string() + ".tmp-" + std::to_string(pid);
}

StagedDirectory::StagedDirectory(const std::string& out_dir) : _target(normalized_dir(out_dir)) {
  check_output_dir(_target);
  _tmp = staging_dir(_target, ::getpid());
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
