#pragma once
// Shared helpers for ptq's tests: where the shared models/data and the generated reference
// fixtures live, temporary directories, and running the ptq executable.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace ptq::test {

// ../shared beside the checkout (models/, data/), as CI lays it out.
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

// Whether a process's resident set measures its own allocations: not under AddressSanitizer,
// whose shadow memory and quarantine add to it (scripts/test.sh's second pass). Peak-RSS bounds
// are asserted in the plain build only; the sanitizer pass still checks everything else.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRssMeasuresAllocations = false;
#else
constexpr bool kRssMeasuresAllocations = true;
#endif

struct CliResult {
  int exit_code = -1;         // 128 + N when killed by signal N, as shells report it
  std::string out;            // stdout
  std::string err;            // stderr
  int64_t max_rss_bytes = 0;  // the process's peak resident set
};

// Runs the ptq executable with `args` (no shell interpretation) and captures its output.
// `before_exec`, if given, runs in the child just before exec (e.g. to join a cgroup); the
// child exits 127 if it throws.
CliResult run_cli(const std::vector<std::string>& args,
                  const std::function<void()>& before_exec = {});

void write_file(const std::filesystem::path& path, const std::string& bytes);
std::string read_file(const std::filesystem::path& path);

}  // namespace ptq::test
