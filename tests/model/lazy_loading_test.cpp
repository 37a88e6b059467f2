// Lazy layer loading: a model streamed one layer at a time computes exactly what the eager
// model computes, refuses layers it has not loaded, validates every layer up front, and runs
// in a fraction of the memory its weights need.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "memory_cgroup.h"
#include "model/model_test_utils.h"
#include "model/random_llama.h"
#include "ptq/common/error.h"
#include "ptq/io/safetensors.h"
#include "ptq/model/causal_lm.h"

namespace ptq::model {
namespace {

using test::fp32_bytes;
using test::llama_global_tensors;
using test::llama_layers_bytes;
using test::LlamaShape;
using test::MemoryCgroup;
using test::write_random_llama;

const LoadOptions kLazy{/*lazy_layers=*/true};

// embed, then load / run / unload each layer, then the head: the calibration pipeline's loop.
at::Tensor run_streamed(CausalLM& lm, const at::Tensor& ids) {
  at::Tensor hidden = lm.embed(ids, 0);
  for (int64_t i = 0; i < lm.num_layers(); ++i) {
    lm.load_layer(i);
    hidden = lm.forward_layer(i, hidden, 0, nullptr, nullptr);
    lm.unload_layer(i);
  }
  return lm.logits(hidden);
}

TEST(LazyLoadingTest, StreamedLogitsEqualEagerLogits) {
  for (const std::string name : {"llama", "opt", "gpt_neox", "llama_sharded"}) {
    SCOPED_TRACE(name);
    const at::Tensor ids = test::load_reference(name).input_ids;
    const auto eager = load_causal_lm(test::fixture_model(name));
    const auto lazy = load_causal_lm(test::fixture_model(name), kLazy);
    for (int64_t i = 0; i < lazy->num_layers(); ++i) {
      EXPECT_TRUE(eager->layer_loaded(i));
      EXPECT_FALSE(lazy->layer_loaded(i));
      for (const std::string& weight : lazy->layer_weight_names(i)) {
        EXPECT_TRUE(eager->has_weight(weight)) << weight;
        EXPECT_FALSE(lazy->has_weight(weight)) << weight;
      }
    }
    for (const std::string& weight : lazy->global_weight_names()) {
      EXPECT_TRUE(lazy->has_weight(weight)) << weight;
    }
    EXPECT_TRUE(at::equal(run_streamed(*lazy, ids), eager->forward(ids)));
  }
}

TEST(LazyLoadingTest, UnloadedLayerThrows) {
  const auto lm = load_causal_lm(test::fixture_model("llama"), kLazy);
  const at::Tensor hidden = lm->embed(test::load_reference("llama").input_ids, 0);
  try {
    lm->forward_layer(1, hidden, 0, nullptr, nullptr);
    FAIL() << "forward_layer ran an unloaded layer";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1"), std::string::npos) << e.what();
  }
  lm->load_layer(0);
  EXPECT_TRUE(lm->layer_loaded(0));
  lm->forward_layer(0, hidden, 0, nullptr, nullptr);
  lm->unload_layer(0);
  EXPECT_FALSE(lm->layer_loaded(0));
  EXPECT_THROW(lm->forward_layer(0, hidden, 0, nullptr, nullptr), std::logic_error);
  EXPECT_THROW(lm->load_layer(lm->num_layers()), InputError);
}

TEST(LazyLoadingTest, MisShapedLayerFailsAtLoad) {
  test::TempDir dir;
  const std::string victim = "model.layers.3.mlp.up_proj.weight";
  write_random_llama(dir.path(),
                     {/*hidden=*/32, /*intermediate=*/48, /*layers=*/4,
                      /*vocab=*/64, /*heads=*/4},
                     victim);
  for (const bool lazy : {true, false}) {
    SCOPED_TRACE(lazy ? "lazy" : "eager");
    try {
      load_causal_lm(dir.path().string(), LoadOptions{lazy});
      FAIL() << "a mis-shaped " << victim << " was accepted";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(victim), std::string::npos) << e.what();
    }
  }
}

struct ChildRun {
  int status = 0;
  int64_t max_rss_bytes = 0;
  bool succeeded() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
  std::string outcome() const {
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "exit " + std::to_string(WEXITSTATUS(status));
  }
};

// Runs `body` in a forked child, inside `cgroup` when it is usable; exit 0 iff it returns.
ChildRun run_in_child(const MemoryCgroup& cgroup, const std::function<void()>& body) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // A deadlock in a thread pool inherited across fork() fails the test instead of hanging
    // it; one thread keeps the child off the parent's OpenMP pool.
    ::alarm(120);
    at::set_num_threads(1);
    int code = 0;
    try {
      if (cgroup.usable() && !cgroup.join()) throw std::runtime_error("cannot join the cgroup");
      body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child failed: %s\n", e.what());
      code = 1;
    }
    std::fflush(nullptr);
    ::_exit(code);
  }
  ChildRun run;
  struct rusage usage {};
  ::wait4(pid, &run.status, 0, &usage);
  run.max_rss_bytes = static_cast<int64_t>(usage.ru_maxrss) * 1024;
  return run;
}

// This process's resident set now; a forked child starts with it resident (shared pages).
int64_t current_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  int64_t kb = 0;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> kb;
      break;
    }
  }
  return kb * 1024;
}

double mb(int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// ~600 MB of fp32 layer weights streamed under a limit of a third of them: the lazy run
// must finish, the eager load of the same checkpoint must not. Without a writable cgroup
// the same bound is checked against the children's peak RSS instead.
PTQ_MEMORY_LIMIT_TEST(LazyLoadingTest, StreamsModelThreeTimesLargerThanMemoryLimit) {
  const LlamaShape shape{/*hidden=*/1024, /*intermediate=*/2816, /*layers=*/12, /*vocab=*/256,
                         /*heads=*/16};
  test::TempDir dir;
  write_random_llama(dir.path(), shape);
  const int64_t layers_bytes = llama_layers_bytes(shape);
  const int64_t limit = layers_bytes / 3 + fp32_bytes(llama_global_tensors(shape));
  const at::Tensor ids = at::randint(shape.vocab, {1, 8}, at::kLong);
  const std::string model = dir.path().string();
  const auto stream = [&] {
    auto lm = load_causal_lm(model, kLazy);
    const at::Tensor logits = run_streamed(*lm, ids);
    if (!logits.isfinite().all().item<bool>()) throw std::runtime_error("non-finite logits");
  };
  const auto load_eagerly = [&] { load_causal_lm(model); };
  const std::string name = "ptq-test-" + std::to_string(::getpid());
  const int64_t baseline = current_rss_bytes();

  ChildRun lazy, eager;
  int64_t lazy_usage = -1, lazy_failcnt = -1;
  bool cgroup_used = false;
  {
    const MemoryCgroup cgroup(name + "-lazy", limit);
    cgroup_used = cgroup.usable();
    lazy = run_in_child(cgroup, stream);
    lazy_usage = cgroup.read("memory.max_usage_in_bytes");
    lazy_failcnt = cgroup.read("memory.failcnt");
  }
  {
    const MemoryCgroup cgroup(name + "-eager", limit);
    eager = run_in_child(cgroup, load_eagerly);
  }
  std::printf("[ lazy streaming ] layer weights %.0f MB, bound %.0f MB, enforced by %s\n",
              mb(layers_bytes), mb(limit),
              cgroup_used ? "a cgroup v1 memory.limit_in_bytes"
                          : "peak RSS over the parent's (no writable cgroup)");
  std::printf(
      "[ lazy streaming ] lazy: %s, cgroup peak %.0f MB (failcnt %lld), peak RSS %.0f MB "
      "(parent at fork %.0f MB)\n",
      lazy.outcome().c_str(), mb(lazy_usage), static_cast<long long>(lazy_failcnt),
      mb(lazy.max_rss_bytes), mb(baseline));
  std::printf("[ lazy streaming ] eager: %s, peak RSS %.0f MB\n", eager.outcome().c_str(),
              mb(eager.max_rss_bytes));

  EXPECT_TRUE(lazy.succeeded()) << lazy.outcome();
  // The pages each layer was copied from are released, so the mapped file stays out of RSS.
  EXPECT_LT(lazy.max_rss_bytes, baseline + limit);
  if (cgroup_used) {
    EXPECT_FALSE(eager.succeeded()) << "the eager load fit in the limit meant to exclude it";
  } else {
    EXPECT_GT(eager.max_rss_bytes, baseline + limit);
  }
}

}  // namespace
}  // namespace ptq::model
