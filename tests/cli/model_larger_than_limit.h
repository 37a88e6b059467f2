#pragma once
// The setup of the tests that prove a command streams a model (QuantizeMemory, EvalMemory): a
// random LLaMA whose fp32 layer weights are three times a memory limit the kernel enforces (a
// cgroup v1 memory limit, memory_cgroup.h), a 4-layer twin of it whose peak RSS is the baseline
// the large one must not outgrow, and token rows to run both on.

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "memory_cgroup.h"
#include "model/random_llama.h"
#include "test_utils.h"

namespace ptq::test {

constexpr int64_t kLimitTestVocab = 256;
constexpr int64_t kLimitTestSeqlen = 64;
constexpr int64_t kLimitTestRows = 4;

struct ModelLargerThanLimit {
  // 48 layers of 10.5 MB (fp32): 504 MB of layer weights; `small` has 4 of them.
  LlamaShape shape{/*hidden=*/512, /*intermediate=*/1024, /*layers=*/48, kLimitTestVocab,
                   /*heads=*/8};
  std::filesystem::path big;
  std::filesystem::path small;
  std::filesystem::path tokens;  // kLimitTestRows x kLimitTestSeqlen random ids, tokens:PATH
  int64_t layers_bytes = 0;      // of `big`
  int64_t limit_bytes = 0;       // a third of them, plus the non-layer weights
};

// Writes both models and the token rows into `dir`.
inline ModelLargerThanLimit write_model_larger_than_limit(const std::filesystem::path& dir) {
  ModelLargerThanLimit setup;
  setup.big = dir / "big";
  setup.small = dir / "small";
  setup.tokens = dir / "tokens.i32";
  LlamaShape small = setup.shape;
  small.layers = 4;
  std::filesystem::create_directory(setup.big);
  std::filesystem::create_directory(setup.small);
  write_random_llama(setup.big, setup.shape);
  write_random_llama(setup.small, small);

  std::mt19937 rng(0);
  std::vector<int32_t> ids(kLimitTestRows * kLimitTestSeqlen);
  for (int32_t& id : ids) id = static_cast<int32_t>(rng() % kLimitTestVocab);
  std::string bytes(ids.size() * sizeof(int32_t), '\0');  // little-endian int32 rows
  std::memcpy(bytes.data(), ids.data(), bytes.size());
  write_file(setup.tokens, bytes);

  setup.layers_bytes = llama_layers_bytes(setup.shape);
  setup.limit_bytes = setup.layers_bytes / 3 + fp32_bytes(llama_global_tensors(setup.shape));
  return setup;
}

// run_cli inside `cgroup` when it is usable (the child joins it before exec), else unlimited.
inline CliResult run_cli_in(const MemoryCgroup& cgroup, const std::vector<std::string>& args) {
  return run_cli(args, [&] {
    if (cgroup.usable() && !cgroup.join()) throw std::runtime_error("cannot join the cgroup");
  });
}

inline double mebibytes_of(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

}  // namespace ptq::test
