// Malformed checkpoints through the real `ptq eval`: every case must end with exit code 2 and
// a message naming the file at fault, never a crash (acceptance 5 of the foundation issue).

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/io_test_helpers.h"
#include "test_utils.h"

namespace ptq::test {
namespace {
namespace fs = std::filesystem;

class MalformedModel : public ::testing::Test {
 protected:
  void SetUp() override {
    _source = shared_dir() / "models" / "stories260K-hf";
    _config = read_file(_source / "config.json");
    _weights = read_file(_source / "model.safetensors");
    _eval = "tokens:" +
            (shared_dir() / "models" / "stories260K" / "samples-eval-64x512-seed2.i32").string();
  }

  // A model directory with the given config.json and model.safetensors bytes.
  fs::path model_dir(const std::string& config, const std::string& weights) {
    const fs::path dir = _temp / ("m" + std::to_string(_count++));
    fs::create_directory(dir);
    write_file(dir / "config.json", config);
    write_file(dir / "model.safetensors", weights);
    return dir;
  }

  // Runs eval on `dir` and checks the exit code and that stderr names each part.
  void expect_rejected(const fs::path& dir, const std::vector<std::string>& parts) {
    const CliResult result =
        run_cli({"eval", "--model", dir.string(), "--dataset", _eval, "--max-segments", "1"});
    EXPECT_EQ(result.exit_code, 2) << result.err;
    for (const auto& part : parts) {
      EXPECT_NE(result.err.find(part), std::string::npos)
          << "'" << part << "' not in: " << result.err;
    }
  }

  // The shipped weights with the fp32 values of tensor `name` rewritten by `edit`.
  std::string weights_with(const std::string& name,
                           const std::function<void(std::vector<float>&)>& edit) const {
    std::string bytes = _weights;
    uint64_t header_size = 0;
    std::memcpy(&header_size, bytes.data(), sizeof(header_size));
    const auto entry = nlohmann::json::parse(bytes.substr(8, header_size)).at(name);
    EXPECT_EQ(entry.at("dtype"), "F32") << name;
    const size_t begin = 8 + header_size + entry.at("data_offsets")[0].get<size_t>();
    std::vector<float> values(entry.at("data_offsets")[1].get<size_t>() -
                              entry.at("data_offsets")[0].get<size_t>());
    values.resize(values.size() / sizeof(float));
    std::memcpy(values.data(), bytes.data() + begin, values.size() * sizeof(float));
    edit(values);
    std::memcpy(bytes.data() + begin, values.data(), values.size() * sizeof(float));
    return bytes;
  }

  // `ptq quantize` of `dir` into a fresh output directory, which must not exist afterwards.
  CliResult quantize_rejected(const fs::path& dir, const std::string& method) {
    const fs::path out = _temp / ("q" + std::to_string(_count++));
    const CliResult result = run_cli(
        {"quantize", "--model", dir.string(), "--method", method, "--wbits", "4", "--calib",
         "tokens:" +
             (shared_dir() / "models" / "stories260K" / "samples-calib-128x512-seed1.i32").string(),
         "--nsamples", "2", "--out", out.string()});
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_FALSE(fs::exists(out));
    return result;
  }

  // The shipped config with `key` replaced by `value` (JSON text).
  std::string config_with(const std::string& key, const std::string& value) const {
    const std::string quoted = "\"" + key + "\"";
    const auto at = _config.find(quoted);
    EXPECT_NE(at, std::string::npos) << key;
    const auto colon = _config.find(':', at);
    const auto end = _config.find_first_of(",}", colon);
    return _config.substr(0, colon + 1) + " " + value + _config.substr(end);
  }

  TempDir _temp;
  int _count = 0;
  fs::path _source;
  std::string _config;
  std::string _weights;
  std::string _eval;
};

TEST_F(MalformedModel, IntactCopyIsAccepted) {
  const CliResult result = run_cli({"eval", "--model", model_dir(_config, _weights).string(),
                                    "--dataset", _eval, "--max-segments", "1"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

TEST_F(MalformedModel, TruncatedSafetensors) {
  expect_rejected(model_dir(_config, _weights.substr(0, _weights.size() / 2)),
                  {"model.safetensors"});
}

TEST_F(MalformedModel, HeaderLengthPastEndOfFile) {
  std::string weights = _weights;
  weights[6] = '\x01';  // header length ~2^48
  expect_rejected(model_dir(_config, weights), {"model.safetensors"});
}

TEST_F(MalformedModel, OverlappingOffsets) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  expect_rejected(model_dir(_config, safetensors_bytes(header, std::string(12, '\0'))),
                  {"model.safetensors", "overlap"});
}

TEST_F(MalformedModel, ByteLengthDisagreesWithDtypeAndShape) {
  const std::string header = R"({"a":{"dtype":"F32","shape":[2,4],"data_offsets":[0,24]}})";
  expect_rejected(model_dir(_config, safetensors_bytes(header, std::string(24, '\0'))),
                  {"model.safetensors", "'a'"});
}

TEST_F(MalformedModel, UnknownDtype) {
  const std::string header = R"({"a":{"dtype":"F12","shape":[2],"data_offsets":[0,4]}})";
  expect_rejected(model_dir(_config, safetensors_bytes(header, std::string(4, '\0'))),
                  {"model.safetensors", "F12"});
}

TEST_F(MalformedModel, HeaderIsNotJson) {
  expect_rejected(model_dir(_config, safetensors_bytes("{\"a\": [1, 2", "")),
                  {"model.safetensors"});
}

TEST_F(MalformedModel, ConfigIsNotJson) {
  expect_rejected(model_dir("{\"architectures\": [", _weights), {"config.json"});
}

TEST_F(MalformedModel, ConfigMissesAKey) {
  expect_rejected(model_dir(config_with("num_attention_heads", "null"), _weights),
                  {"config.json", "num_attention_heads"});
}

TEST_F(MalformedModel, UnknownArchitectureListsTheSupportedOnes) {
  expect_rejected(model_dir(config_with("architectures", "[\"MambaForCausalLM\"]"), _weights),
                  {"MambaForCausalLM", "LlamaForCausalLM", "OPTForCausalLM"});
}

TEST_F(MalformedModel, ConfigDisagreesWithTheTensors) {
  expect_rejected(model_dir(config_with("hidden_size", "128"), _weights),
                  {"model.embed_tokens.weight"});
}

TEST_F(MalformedModel, NonFiniteWeightIsNamed) {
  const fs::path dir = model_dir(
      _config, weights_with("model.layers.1.mlp.up_proj.weight", [](std::vector<float>& w) {
        w[10] = NAN;
        w[20] = INFINITY;
      }));
  const std::vector<std::string> parts = {"model.layers.1.mlp.up_proj.weight", "model.safetensors",
                                          "2 non-finite", "flat index 10"};
  expect_rejected(dir, parts);
  for (const char* method : {"rtn", "gptq"}) {
    const CliResult result = quantize_rejected(dir, method);
    for (const auto& part : parts)
      EXPECT_NE(result.err.find(part), std::string::npos) << result.err;
  }
}

// Finite weights whose activations overflow fp32: layer 1's norm scales its input by 1e20, so
// the products q k^T (and the Hessian's x^T x) exceed 3.4e38.
TEST_F(MalformedModel, OverflowingActivations) {
  const fs::path dir = model_dir(
      _config, weights_with("model.layers.1.input_layernorm.weight", [](std::vector<float>& w) {
        for (float& x : w) x = 1e20F;
      }));
  expect_rejected(dir, {"log-likelihood", "not finite"});
  const CliResult gptq = quantize_rejected(dir, "gptq");
  EXPECT_NE(gptq.err.find("model.layers.1.self_attn.q_proj: the Hessian has non-finite"),
            std::string::npos)
      << gptq.err;
}

}  // namespace
}  // namespace ptq::test
