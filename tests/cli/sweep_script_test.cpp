// scripts/sweep.sh reads grid values as data: a value is never run as shell code or read as
// octal, and jobs of two models that share a folder name do not share a name (and so an
// output, a report and a log).

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "test_utils.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;

struct ScriptResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// `bash scripts/sweep.sh --grid GRID ARGS...` with stdout and stderr captured in files of `tmp`.
ScriptResult sweep(const TempDir& tmp, const fs::path& grid, std::vector<std::string> args) {
  std::vector<std::string> argv_strings = {
      "bash",   (fs::path(PTQ_SOURCE_DIR) / "scripts" / "sweep.sh").string(),
      "--grid", grid.string(),
      "--out",  (tmp / "sweep-out").string()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!std::freopen((tmp / "stdout").c_str(), "w", stdout) ||
        !std::freopen((tmp / "stderr").c_str(), "w", stderr)) {
      ::_exit(127);
    }
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp("bash", argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_file(tmp / "stdout"),
          read_file(tmp / "stderr")};
}

std::string grid_with(const std::string& extra) {
  return "models = stories260K-hf\nmethods = rtn\nwbits = 4\ncalib = tokens:calib.i32\n"
         "eval = tokens:eval.i32\nseqlen = 512\n" +
         extra + "\n";
}

TEST(SweepScript, GridValuesAreNeverRunAsShellCode) {
  TempDir tmp;
  const fs::path marker = tmp / "PWNED";
  for (const std::string& value :
       {"conf[$(touch " + marker.string() + ")]+1", "$(touch " + marker.string() + ")",
        "a[$(touch " + marker.string() + ")]"}) {
    write_file(tmp / "g.grid", grid_with("eval_rows = " + value));
    for (const std::vector<std::string>& mode :
         {std::vector<std::string>{"--list"}, {"--job", "0", "--ptq", "/bin/false"}}) {
      const ScriptResult r = sweep(tmp, tmp / "g.grid", mode);
      EXPECT_EQ(r.exit_code, 2) << value << "\n" << r.err;
      EXPECT_NE(r.err.find("eval_rows"), std::string::npos) << r.err;
      EXPECT_FALSE(fs::exists(marker)) << value;
    }
  }
  write_file(tmp / "g.grid", grid_with(""));
  const ScriptResult job =
      sweep(tmp, tmp / "g.grid", {"--job", "0+$(touch " + marker.string() + ")"});
  EXPECT_EQ(job.exit_code, 2) << job.err;
  EXPECT_FALSE(fs::exists(marker));
}

TEST(SweepScript, LeadingZerosAreDecimal) {
  TempDir tmp;
  write_file(tmp / "g.grid",
             "models = stories260K-hf\nmethods = rtn\nwbits = 04\n"
             "groups = 010 -1\nnsamples = 08\ncalib = tokens:c.i32\n"
             "eval = tokens:e.i32\n");
  const ScriptResult r = sweep(tmp, tmp / "g.grid", {"--list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("stories260K-hf-rtn-w4-g10 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--wbits 4 --group-size 10\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stories260K-hf-rtn-w4-g-1 "), std::string::npos) << r.out;
}

TEST(SweepScript, ModelsSharingAFolderNameGetDistinctJobNames) {
  TempDir tmp;
  write_file(tmp / "g.grid",
             "models = a/llama b/llama c/other\nmethods = rtn\nwbits = 4\n"
             "calib = tokens:c.i32\neval = tokens:e.i32\n");
  const ScriptResult r = sweep(tmp, tmp / "g.grid", {"--list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "llama-m1-rtn-w4-g-1 a/llama --method rtn --wbits 4 --group-size -1\n"
            "llama-m2-rtn-w4-g-1 b/llama --method rtn --wbits 4 --group-size -1\n"
            "other-rtn-w4-g-1 c/other --method rtn --wbits 4 --group-size -1\n");
}

}  // namespace
}  // namespace ptq::test
