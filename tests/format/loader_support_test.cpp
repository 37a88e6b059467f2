#include "ptq/format/loader_support.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace ptq::quant {
namespace {

// loader -> verdict name, ptq's last.
std::map<std::string, std::string> verdicts(const CheckpointTraits& traits) {
  std::map<std::string, std::string> result;
  for (const LoaderSupport& s : loader_support(traits)) result[s.loader] = verdict_name(s.verdict);
  return result;
}

CheckpointTraits traits(int bits, bool sym, CheckpointFormat format) {
  CheckpointTraits t;
  t.format.bits = bits;
  t.format.sym = sym;
  t.format.checkpoint_format = format;
  return t;
}

using Verdicts = std::map<std::string, std::string>;

// The rows of docs/format.md's loader table.
TEST(LoaderSupport, GptqV1AndV2AtLoaderBitWidths) {
  for (int bits : {2, 3, 4, 8}) {
    SCOPED_TRACE(testing::Message() << bits << " bits");
    EXPECT_EQ(verdicts(traits(bits, true, CheckpointFormat::GptqV1)),
              (Verdicts{{"AutoGPTQ", "loads"},
                        {"GPTQModel", "loads"},
                        {"Transformers", "loads"},
                        {"vLLM", "loads"},
                        {"ptq", "loads"}}));
    // GPTQModel accepts asymmetric v1 only from itself.
    EXPECT_EQ(verdicts(traits(bits, false, CheckpointFormat::GptqV1)),
              (Verdicts{{"AutoGPTQ", "loads"},
                        {"GPTQModel", "refuses"},
                        {"Transformers", "loads"},
                        {"vLLM", "loads"},
                        {"ptq", "loads"}}));
    // AutoGPTQ knows no v2 and adds v1's + 1 to every zero.
    for (bool sym : {false, true}) {
      EXPECT_EQ(verdicts(traits(bits, sym, CheckpointFormat::GptqV2)),
                (Verdicts{{"AutoGPTQ", "misreads"},
                          {"GPTQModel", "loads"},
                          {"Transformers", "loads"},
                          {"vLLM", "loads"},
                          {"ptq", "loads"}}));
    }
  }
}

TEST(LoaderSupport, OnlyPtqReadsItsOwnWidthsAndBits) {
  const Verdicts ptq_only = {{"AutoGPTQ", "refuses"},
                             {"GPTQModel", "refuses"},
                             {"Transformers", "refuses"},
                             {"vLLM", "refuses"},
                             {"ptq", "loads"}};
  for (int bits : {5, 6, 7}) {
    EXPECT_EQ(verdicts(traits(bits, true, CheckpointFormat::GptqV1)), ptq_only) << bits;
  }
  CheckpointTraits unaligned = traits(4, true, CheckpointFormat::GptqV1);
  unaligned.unaligned_linears = {"a", "b", "c", "d", "e"};
  EXPECT_EQ(verdicts(unaligned), ptq_only);
  EXPECT_EQ(loader_support(unaligned)[0].why,
            "widths not multiples of 32 (padded by ptq): a, b, c and 2 more");
  EXPECT_TRUE(loader_width(4096, 11008));
  EXPECT_FALSE(loader_width(172, 64));
  EXPECT_FALSE(loader_width(64, 172));
}

// SEPTQ's kept weights: vLLM has no parameter for them; the others drop them silently.
TEST(LoaderSupport, SideTensorsAreServedByPtqOnly) {
  CheckpointTraits septq = traits(3, true, CheckpointFormat::GptqV1);
  septq.side_tensors = true;
  EXPECT_EQ(verdicts(septq), (Verdicts{{"AutoGPTQ", "misreads"},
                                       {"GPTQModel", "misreads"},
                                       {"Transformers", "misreads"},
                                       {"vLLM", "refuses"},
                                       {"ptq", "loads"}}));
  CheckpointTraits activations = traits(4, true, CheckpointFormat::GptqV1);
  activations.format.activations = {4, 1.0};
  EXPECT_EQ(verdicts(activations).at("vLLM"), "misreads");
  const nlohmann::json json = loader_support_json(loader_support(septq));
  EXPECT_EQ(json.size(), 5u);
  EXPECT_EQ(json[3].at("loader"), "vLLM");
  EXPECT_EQ(json[3].at("verdict"), "refuses");
}

}  // namespace
}  // namespace ptq::quant
