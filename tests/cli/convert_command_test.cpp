#include <gtest/gtest.h>

#include <filesystem>

#include "test_utils.h"

namespace ptq::test {
namespace {

namespace fs = std::filesystem;

fs::path stories_bin() { return shared_dir() / "models/stories260K/stories260K.bin"; }

int64_t entries_in(const fs::path& dir) {
  return std::distance(fs::directory_iterator(dir), fs::directory_iterator());
}

TEST(ConvertCommand, Llama2cWritesAnHfDirectory) {
  TempDir dir;
  const auto out = dir / "m";
  const CliResult result =
      run_cli({"convert", "--from", "llama2c", stories_bin().string(), "--out", out.string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(fs::is_regular_file(out / "model.safetensors"));
  EXPECT_TRUE(fs::is_regular_file(out / "config.json"));
  EXPECT_NE(result.err.find("model.safetensors"), std::string::npos) << result.err;
}

TEST(ConvertCommand, TruncatedBinExitsTwoNamingTheFile) {
  TempDir dir;
  const std::string bytes = read_file(stories_bin());
  write_file(dir / "cut.bin", bytes.substr(0, bytes.size() / 2));
  const CliResult result = run_cli(
      {"convert", "--from", "llama2c", (dir / "cut.bin").string(), "--out", (dir / "m").string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("cut.bin"), std::string::npos) << result.err;
  EXPECT_EQ(entries_in(dir.path()), 1) << "a partial output was left behind";
}

TEST(ConvertCommand, ExistingNonEmptyOutExitsTwo) {
  TempDir dir;
  fs::create_directory(dir / "m");
  write_file(dir / "m" / "keep.txt", "mine");
  const CliResult result = run_cli(
      {"convert", "--from", "llama2c", stories_bin().string(), "--out", (dir / "m").string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("not empty"), std::string::npos) << result.err;
  EXPECT_EQ(entries_in(dir / "m"), 1);
  EXPECT_EQ(entries_in(dir.path()), 1);
}

TEST(ConvertCommand, UnknownSourceFormatExitsTwo) {
  TempDir dir;
  const CliResult result =
      run_cli({"convert", "--from", "gguf", stories_bin().string(), "--out", (dir / "m").string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("llama2c"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(dir / "m"));
}

}  // namespace
}  // namespace ptq::test
