#pragma once
// Shared helpers for ptq's tests: where the shared models/data and the generated reference
// fixtures live, temporary directories, and running the ptq executable.

#include <filesystem>
#include <string>
#include <vector>

namespace ptq::test {

// ../shared beside the checkout (models/, data/, notes/), as CI lays it out.
std::filesystem::path shared_dir();
// Random Hugging Face checkpoints written by tests/reference/make_fixtures.py.
std::filesystem::path fixtures_dir();

// A fresh empty directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return _path; }
  std::filesystem::path operator/(const std::string& name) const { return _path / name; }

 private:
  std::filesystem::path _path;
};

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs the ptq executable with `args` (no shell interpretation) and captures its output.
CliResult run_cli(const std::vector<std::string>& args);

void write_file(const std::filesystem::path& path, const std::string& bytes);
std::string read_file(const std::filesystem::path& path);

}  // namespace ptq::test
