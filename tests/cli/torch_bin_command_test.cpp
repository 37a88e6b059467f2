// pytorch_model.bin checkpoints through the real CLI: a malicious pickle ends with exit 2
// naming the file and the global, and its payload (creating a marker file) never runs; a
// real one quantizes exactly as its safetensors twin.

#include <gtest/gtest.h>

#include <cstdint>
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

// GPTQ of the .bin twin writes the same bytes as GPTQ of the safetensors fixture.
TEST(TorchBinCommand, QuantizesToTheSameCheckpointAsSafetensors) {
  test::TempDir tmp;
  std::string ids;  // 8 x 32 int32 ids below the fixture's vocabulary of 256
  for (int32_t i = 0; i < 8 * 32; ++i) {
    const int32_t id = (i * 37 + 11) % 256;
    ids.append(reinterpret_cast<const char*>(&id), sizeof id);
  }
  test::write_file(tmp / "calib.i32", ids);
  for (const auto& [model, out] :
       {std::pair<fs::path, std::string>{test::fixtures_dir() / "llama", "from_safetensors"},
        {torch_bin_dir() / "llama", "from_bin"}}) {
    const test::CliResult r =
        run_cli({"quantize", "--model", model.string(), "--method", "gptq", "--wbits", "4",
                 "--calib", "tokens:" + (tmp / "calib.i32").string(), "--nsamples", "8", "--seqlen",
                 "32", "--out", (tmp / out).string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_EQ(test::read_file(tmp / "from_bin" / "model.safetensors"),
            test::read_file(tmp / "from_safetensors" / "model.safetensors"));
}

}  // namespace
}  // namespace ptq
