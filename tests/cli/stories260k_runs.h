#pragma once
// Runs of ptq on the real stories260K checkpoint in ../shared/models, shared by the CLI tests
// that quantize it (quantize_command_test.cpp, export_command_test.cpp).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_utils.h"

namespace ptq::test::stories260k {

namespace fs = std::filesystem;

inline std::string stories_hf() { return (shared_dir() / "models" / "stories260K-hf").string(); }

inline std::string stories_tokens(const std::string& file) {
  return "tokens:" + (shared_dir() / "models" / "stories260K" / file).string();
}

// The base command line with each "--option value" pair of `extra` replacing the option's base
// value (CLI11 rejects an option given twice) or appended when the base lacks it.
inline std::vector<std::string> quantize_args(const fs::path& out, std::vector<std::string> extra) {
  std::vector<std::string> args = {
      "quantize",   "--model", stories_hf(),
      "--method",   "gptq",    "--wbits",
      "4",          "--calib", stories_tokens("samples-calib-128x512-seed1.i32"),
      "--nsamples", "8",       "--out",
      out.string()};
  for (size_t i = 0; i + 1 < extra.size(); i += 2) {
    const auto at = std::find(args.begin(), args.end(), extra[i]);
    if (at != args.end()) {
      *(at + 1) = extra[i + 1];
    } else {
      args.push_back(extra[i]);
      args.push_back(extra[i + 1]);
    }
  }
  return args;
}

// The perplexity line of `ptq eval` / `ptq quantize --eval` output.
inline double printed_perplexity(const std::string& out) {
  const size_t at = out.find("perplexity ");
  EXPECT_NE(at, std::string::npos) << out;
  return at == std::string::npos ? 0.0 : std::stod(out.substr(at + 11));
}

// The first 4 of the 64 eval rows, in `tmp`: enough to compare two runs of one model, at a
// sixteenth of the time.
inline std::string short_eval_set(const TempDir& tmp) {
  const fs::path path = tmp / "eval-4x512.i32";
  const std::string rows =
      read_file(shared_dir() / "models" / "stories260K" / "samples-eval-64x512-seed2.i32");
  std::ofstream(path, std::ios::binary).write(rows.data(), 4 * 512 * sizeof(int32_t));
  return "tokens:" + path.string();
}

inline double eval_perplexity(const fs::path& model, const std::string& dataset) {
  const CliResult e =
      run_cli({"--threads", "1", "eval", "--model", model.string(), "--dataset", dataset});
  EXPECT_EQ(e.exit_code, 0) << e.err;
  return printed_perplexity(e.out);
}

}  // namespace ptq::test::stories260k
