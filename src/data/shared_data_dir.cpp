#include <cstdlib>
#include <filesystem>

#include "ptq/common/error.h"
#include "ptq/data/dataset.h"

namespace ptq::data {
namespace {

namespace fs = std::filesystem;

fs::path executable_dir() {
  std::error_code error;
  const fs::path exe = fs::read_symlink("/proc/self/exe", error);
  return error ? fs::path() : exe.parent_path();
}

}  // namespace

std::string shared_data_dir() {
  if (const char* env = std::getenv("PTQ_DATA_DIR"); env && *env) {
    PTQ_CHECK_INPUT(fs::is_directory(env), "PTQ_DATA_DIR=", env, " is not a directory");
    return env;
  }
  const fs::path candidates[] = {fs::current_path() / ".." / "shared" / "data",
                                 executable_dir() / ".." / ".." / "shared" / "data"};
  for (const fs::path& candidate : candidates) {
    if (fs::is_directory(candidate)) return fs::weakly_canonical(candidate).string();
  }
  PTQ_THROW_INPUT("no shared data directory: set PTQ_DATA_DIR (looked in ", candidates[0].string(),
                  " and ", candidates[1].string(), ")");
}

}  // namespace ptq::data
