// pytorch_model.bin checkpoints through the real CLI: a malicious pickle ends with exit 2
// naming the file and the global, and its payload (creating a marker file) never runs.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "ptq/common/error.h"
#include "test_utils.h"

namespace ptq {
namespace {

namespace fs = std::filesystem;
using test::run_cli;

fs::path torch_bin_dir() { return test::fixtures_dir() / "torch_bin"; }

TEST(TorchBinCommand, MaliciousPickleIsRefusedWithExit2AndNeverRun) {
  const fs::path marker = torch_bin_dir() / "PWNED";
  for (const auto& [file, global] : {std::pair<std::string, std::string>{"os_system", "os.system"},
                                     {"builtins_eval", "builtins.eval"},
                                     {"subprocess_in_state_dict", "subprocess.call"}}) {
    SCOPED_TRACE(file);
    test::TempDir dir;
    fs::copy_file(torch_bin_dir() / "llama" / "config.json", dir / "config.json");
    fs::copy_file(torch_bin_dir() / "malicious" / (file + ".bin"), dir / "pytorch_model.bin");
    const test::CliResult r = run_cli({"inspect", dir.path().string()});
    EXPECT_EQ(r.exit_code, kExitInput) << r.err;
    EXPECT_NE(r.err.find((dir / "pytorch_model.bin").string()), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("'" + global + "'"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(marker));
  }
}

TEST(TorchBinCommand, InspectsAPytorchModelBinDirectory) {
  const test::CliResult r = run_cli({"inspect", (torch_bin_dir() / "llama").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace ptq
