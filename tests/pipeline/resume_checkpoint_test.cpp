// The work folder of a resumable quantization: what finish_layer() commits, load() and
// replay_layer() give back unchanged; a checkpoint from other settings, or with a missing,
// truncated or altered file, is an InputError naming the difference.

#include "ptq/pipeline/resume_checkpoint.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "ptq/common/error.h"
#include "quant/quant_test_helpers.h"
#include "test_utils.h"

namespace ptq::test {
namespace {

namespace fs = std::filesystem;
using quant::test_helpers::matrix;

const nlohmann::json kIdentity = {{"wbits", 4}, {"nsamples", 8}, {"model_files", "abc"}};

// A quantized 2x3 linear with one group; `base` makes each linear's values distinct.
quant::QuantizedLinear linear(float base) {
  quant::QuantizedLinear l;
  l.quantized.codes = at::tensor({1, 2, 3, 4, 5, 6}, at::kByte).reshape({2, 3});
  l.quantized.codes.add_(static_cast<int>(base));
  l.quantized.scales = matrix({{base + 0.25f, base + 0.5f}});
  l.quantized.zeros = matrix({{8, 7}});
  l.quantized.g_idx = at::zeros({3}, at::kInt);
  return l;
}

quant::LayerRecord record(int64_t index) {
  quant::LayerRecord layer;
  layer.index = index;
  layer.seconds = 0.125 * static_cast<double>(index + 1);
  quant::LinearRecord r;
  r.name = "model.layers." + std::to_string(index) + ".mlp.down_proj";
  r.out_features = 2;
  r.in_features = 3;
  r.loss = 1.0 / 3.0;  // not exactly representable in decimal: the JSON must round-trip it
  r.relative_error = 0.1 + static_cast<double>(index);
  r.percdamp = 0.01;
  r.damp = 2e-7;
  r.rtn_fallback = index == 1;
  layer.linears.push_back(r);
  return layer;
}

// Two finished layers: layer 0 with two linears (one with an extra tensor), layer 1 with one.
void write_two_layers(quant::ResumeCheckpoint& checkpoint) {
  checkpoint.add_linear("model.layers.0.self_attn.q_proj", linear(0));
  quant::QuantizedLinear with_extra = linear(10);
  with_extra.extra_tensors["input_smooth"] = at::tensor({0.5f, 2.0f, 4.0f});
  checkpoint.add_linear("model.layers.0.mlp.down_proj", with_extra);
  checkpoint.finish_layer(record(0), at::full({2, 4, 3}, 1.5f),
                          {{"generator", at::ones({5}, at::kByte)}});
  checkpoint.add_linear("model.layers.1.mlp.down_proj", linear(20));
  checkpoint.finish_layer(record(1), at::arange(24, at::kHalf).reshape({2, 4, 3}),
                          {{"generator", at::full({5}, 9, at::kByte)}});
}

void flip_last_byte(const fs::path& path) {
  std::string bytes = read_file(path);
  bytes.back() ^= 0x01;
  write_file(path, bytes);
}

// The InputError message of checkpoint.load() (empty when it succeeds).
std::string load_error(quant::ResumeCheckpoint& checkpoint) {
  try {
    checkpoint.load();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ResumeCheckpoint, WorkFolderSitsBesideTheOutput) {
  TempDir tmp;
  EXPECT_EQ(quant::ResumeCheckpoint((tmp / "out").string() + "/", kIdentity).dir(),
            tmp / "out.work");
  quant::ResumeCheckpoint checkpoint((tmp / "out").string(), kIdentity);
  EXPECT_FALSE(checkpoint.exists());
  checkpoint.add_linear("model.layers.0.mlp.down_proj", linear(0));
  EXPECT_FALSE(fs::exists(tmp / "out.work")) << "nothing is written before a layer finishes";
}

TEST(ResumeCheckpoint, LoadAndReplayGiveBackWhatWasCommitted) {
  TempDir tmp;
  quant::ResumeCheckpoint writer((tmp / "out").string(), kIdentity);
  write_two_layers(writer);
  EXPECT_FALSE(fs::exists(tmp / "out.work" / "state-00001.safetensors")) << "superseded";

  quant::ResumeCheckpoint reader((tmp / "out").string(), kIdentity);
  ASSERT_TRUE(reader.exists());
  const quant::FinishedLayers done = reader.load();
  ASSERT_EQ(done.layers.size(), 2u);
  for (int64_t i = 0; i < 2; ++i) {
    const quant::LinearRecord& got = done.layers[i].linears.at(0);
    const quant::LinearRecord want = record(i).linears[0];
    EXPECT_EQ(done.layers[i].index, i);
    EXPECT_EQ(done.layers[i].seconds, record(i).seconds);
    EXPECT_EQ(got.name, want.name);
    EXPECT_EQ(got.out_features, 2);
    EXPECT_EQ(got.in_features, 3);
    EXPECT_EQ(got.loss, 1.0 / 3.0);
    EXPECT_EQ(got.relative_error, want.relative_error);
    EXPECT_EQ(got.damp, 2e-7);
    EXPECT_EQ(got.rtn_fallback, i == 1);
  }
  // The activations entering layer 2 (fp16 as given) and the method state after layer 1.
  ASSERT_EQ(done.next_inputs.scalar_type(), at::kHalf);
  EXPECT_TRUE(done.next_inputs.equal(at::arange(24, at::kHalf).reshape({2, 4, 3})));
  ASSERT_EQ(done.method_state.size(), 1u);
  EXPECT_TRUE(done.method_state.at("generator").equal(at::full({5}, 9, at::kByte)));

  std::vector<std::string> names;
  std::vector<quant::QuantizedLinear> linears;
  const auto sink = [&](const std::string& name, const quant::QuantizedLinear& l) {
    names.push_back(name);
    linears.push_back(l);
  };
  reader.replay_layer(0, sink);
  ASSERT_EQ(names, (std::vector<std::string>{"model.layers.0.self_attn.q_proj",
                                             "model.layers.0.mlp.down_proj"}));
  const quant::QuantizedLinear want = linear(10);
  EXPECT_TRUE(linears[1].quantized.codes.equal(want.quantized.codes));
  EXPECT_TRUE(linears[1].quantized.scales.equal(want.quantized.scales));
  EXPECT_TRUE(linears[1].quantized.zeros.equal(want.quantized.zeros));
  EXPECT_TRUE(linears[1].quantized.g_idx.equal(want.quantized.g_idx));
  ASSERT_EQ(linears[1].extra_tensors.size(), 1u);
  EXPECT_TRUE(linears[1].extra_tensors.at("input_smooth").equal(at::tensor({0.5f, 2.0f, 4.0f})));
  EXPECT_TRUE(linears[0].extra_tensors.empty());
}

TEST(ResumeCheckpoint, ResumedCheckpointGrowsAndRemoveDeletesIt) {
  TempDir tmp;
  quant::ResumeCheckpoint first((tmp / "out").string(), kIdentity);
  first.add_linear("model.layers.0.mlp.down_proj", linear(0));
  first.finish_layer(record(0), at::zeros({1, 2, 3}), {});
  quant::ResumeCheckpoint second((tmp / "out").string(), kIdentity);
  EXPECT_EQ(second.load().layers.size(), 1u);
  second.add_linear("model.layers.1.mlp.down_proj", linear(1));
  second.finish_layer(record(1), at::ones({1, 2, 3}), {});
  quant::ResumeCheckpoint third((tmp / "out").string(), kIdentity);
  const quant::FinishedLayers done = third.load();
  EXPECT_EQ(done.layers.size(), 2u);
  EXPECT_TRUE(done.next_inputs.equal(at::ones({1, 2, 3})));
  EXPECT_TRUE(done.method_state.empty());
  third.remove();
  EXPECT_FALSE(fs::exists(tmp / "out.work"));
}

// The measurement pass checkpoints in out.work/measure under the main lock; the main pass's
// first layer, a failed run and the removal after the output keep it and the cached
// measure.json (the cache's folder keeps its marker), and the pass's own removal deletes it.
TEST(ResumeCheckpoint, TheMeasurementOutlivesTheRest) {
  TempDir tmp;
  {
    quant::ResumeCheckpoint main((tmp / "out").string(), kIdentity);
    main.lock();
    const auto pass = quant::ResumeCheckpoint::measurement_pass(main, kIdentity);
    EXPECT_EQ(pass->dir(), tmp / "out.work" / "measure");
    pass->finish_layer(record(0), at::zeros({1, 2, 3}), {});
    EXPECT_EQ(main.measurement_file(), tmp / "out.work" / "measure.json");
  }  // a run that fails during the measurement: nothing of the main pass was committed
  ASSERT_TRUE(fs::exists(tmp / "out.work" / "measure" / "checkpoint.json"));
  {
    quant::ResumeCheckpoint main((tmp / "out").string(), kIdentity);
    main.lock();
    const auto pass = quant::ResumeCheckpoint::measurement_pass(main, kIdentity);
    EXPECT_EQ(pass->load().layers.size(), 1u);
    write_file(main.measurement_file(), "{}");
    pass->remove();
    EXPECT_FALSE(fs::exists(pass->dir()));
    main.add_linear("model.layers.0.mlp.down_proj", linear(0));
    main.finish_layer(record(0), at::zeros({1, 2, 3}), {});
    EXPECT_TRUE(fs::exists(main.measurement_file()));
    main.remove();
  }
  EXPECT_EQ(read_file(tmp / "out.work" / "measure.json"), "{}");
  EXPECT_EQ(read_file(tmp / "out.work" / "ptq-work"), "ptq-resume-1");
  EXPECT_FALSE(fs::exists(tmp / "out.work" / "checkpoint.json"));
  EXPECT_FALSE(fs::exists(tmp / "out.work" / "layer-00000.safetensors"));
}

// A folder at out.work that ptq did not make is never written into or removed.
TEST(ResumeCheckpoint, AForeignWorkFolderIsLeftAlone) {
  TempDir tmp;
  fs::create_directory(tmp / "out.work");
  write_file(tmp / "out.work" / "notes.txt", "precious");
  quant::ResumeCheckpoint checkpoint((tmp / "out").string(), kIdentity);
  EXPECT_THROW(checkpoint.check_owned(), InputError);
  EXPECT_THROW(checkpoint.lock(), InputError);
  checkpoint.add_linear("model.layers.0.mlp.down_proj", linear(0));
  EXPECT_THROW(checkpoint.finish_layer(record(0), at::zeros({1, 2, 3}), {}), InputError);
  checkpoint.remove();
  EXPECT_EQ(read_file(tmp / "out.work" / "notes.txt"), "precious");
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp / "out.work"), fs::directory_iterator()), 1);
}

// lock() makes and marks the folder; a second holder is refused naming the first's pid; the
// folder goes when its maker leaves without a committed layer.
TEST(ResumeCheckpoint, LockIsExclusiveAndAnUncommittedFolderIsRemoved) {
  TempDir tmp;
  {
    quant::ResumeCheckpoint first((tmp / "out").string(), kIdentity);
    first.lock();
    EXPECT_EQ(read_file(tmp / "out.work" / "ptq-work"), "ptq-resume-1");
    EXPECT_EQ(read_file(tmp / "out.work" / "lock"), std::to_string(::getpid()));
    quant::ResumeCheckpoint second((tmp / "out").string(), kIdentity);
    try {
      second.lock();
      ADD_FAILURE() << "a second lock was granted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(::getpid())), std::string::npos)
          << e.what();
    }
  }
  EXPECT_FALSE(fs::exists(tmp / "out.work"));
}

TEST(ResumeCheckpoint, OtherSettingsAreNamed) {
  TempDir tmp;
  quant::ResumeCheckpoint writer((tmp / "out").string(), kIdentity);
  write_two_layers(writer);
  nlohmann::json other = kIdentity;
  other["nsamples"] = 16;
  other["seed"] = 3;
  quant::ResumeCheckpoint reader((tmp / "out").string(), other);
  const std::string error = load_error(reader);
  EXPECT_NE(error.find("nsamples: 8 in the checkpoint, 16 now"), std::string::npos) << error;
  EXPECT_NE(error.find("seed: null in the checkpoint, 3 now"), std::string::npos) << error;
  EXPECT_EQ(error.find("wbits"), std::string::npos) << error;
}

TEST(ResumeCheckpoint, TruncatedAlteredMissingOrMalformedFilesAreRejected) {
  TempDir tmp;
  const fs::path work = tmp / "out.work";
  const auto fresh = [&] {
    fs::remove_all(work);
    quant::ResumeCheckpoint writer((tmp / "out").string(), kIdentity);
    write_two_layers(writer);
  };
  quant::ResumeCheckpoint reader((tmp / "out").string(), kIdentity);

  fresh();
  const fs::path layer = work / "layer-00000.safetensors";
  fs::resize_file(layer, fs::file_size(layer) - 10);
  std::string error = load_error(reader);
  EXPECT_NE(error.find("layer-00000.safetensors is truncated"), std::string::npos) << error;

  fresh();
  flip_last_byte(work / "state-00002.safetensors");
  error = load_error(reader);
  EXPECT_NE(error.find("state-00002.safetensors is corrupted"), std::string::npos) << error;

  fresh();
  fs::remove(work / "layer-00001.safetensors");
  error = load_error(reader);
  EXPECT_NE(error.find("layer-00001.safetensors is missing"), std::string::npos) << error;

  fresh();
  write_file(work / "checkpoint.json", R"({"format": "ptq-resume-1", "identity": )");
  error = load_error(reader);
  EXPECT_NE(error.find("checkpoint.json"), std::string::npos) << error;

  fresh();
  auto manifest = nlohmann::json::parse(read_file(work / "checkpoint.json"));
  manifest["layers"][0]["linears"][0].erase("loss");
  write_file(work / "checkpoint.json", manifest.dump());
  error = load_error(reader);
  EXPECT_NE(error.find("checkpoint.json is malformed"), std::string::npos) << error;

  fresh();
  EXPECT_EQ(load_error(reader), "");  // the fresh checkpoint itself is fine
}

}  // namespace
}  // namespace ptq::test
