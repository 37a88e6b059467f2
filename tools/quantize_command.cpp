// ptq quantize: layer-by-layer post-training quantization of a Hugging Face model into a GPTQ
// v1 directory (docs/format.md), with a JSON report of what happened to every linear.

#include <ATen/Parallel.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "command.h"
#include "loader_log.h"
#include "method_option_group.h"
#include "number_checks.h"
#include "ptq/common/error.h"
#include "ptq/common/logging.h"
#include "ptq/common/memory.h"
#include "ptq/common/printable.h"
#include "ptq/common/report.h"
#include "ptq/data/calibration.h"
#include "ptq/data/dataset.h"
#include "ptq/eval/perplexity.h"
#include "ptq/format/quantized_checkpoint.h"
#include "ptq/format/quantized_checkpoint_writer.h"
#include "ptq/format/storage_bits.h"
#include "ptq/methods/method.h"
#include "ptq/model/architecture.h"
#include "ptq/model/causal_lm.h"
#include "ptq/pipeline/bit_allocation.h"
#include "ptq/pipeline/linear_measurement.h"
#include "ptq/pipeline/per_linear_method.h"
#include "ptq/pipeline/pipeline.h"
#include "ptq/pipeline/resume_checkpoint.h"
#include "ptq/quant/attention_quantizer.h"
#include "ptq/tokenizer/tokenizer.h"
#include "shard_size.h"

namespace ptq::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Text windows default to the reference's 2048 or the model's limit if shorter.
constexpr int64_t kDefaultTextSeqlen = 2048;

struct QuantizeOptions {
  std::string model;
  std::string method = "gptq";
  quant::MethodOptions method_options;
  std::string linear_settings_file;                             // --linear-settings
  double target_bits = 0;                                       // --target-bits; 0: none
  std::string measurement;                                      // --measurement
  std::string candidates_file;                                  // --candidates
  std::map<std::string, quant::LinearSetting> linear_settings;  // read by validate()
  std::vector<quant::LinearSetting> candidates;                 // read by validate()
  quant::ActivationQuantizerConfig activations;
  bool no_attention_quant = false;
  std::optional<bool> true_sequential;  // default: the family table's (FamilyTable)
  bool relative_error = true;
  quant::CalibrationOptions calib{"", 128, 0, 0};  // seqlen 0: default_seqlen()
  std::string checkpoint_format = "gptq";
  std::string out;
  std::string max_shard_size = "2GB";
  std::string report;
  std::string eval;
  bool resume = false;
  int64_t memory_budget_mb = 0;  // 0: available_memory_bytes()
};

// The method at each linear's setting (--linear-settings), else at --wbits/--group-size.
std::unique_ptr<quant::QuantMethod> make_method(const std::string& name,
                                                const QuantizeOptions& options) {
  if (options.linear_settings.empty()) return quant::create_method(name, options.method_options);
  return std::make_unique<quant::PerLinearMethod>(name, options.method_options,
                                                  options.linear_settings);
}

// Every module of --linear-settings must be a linear of the model.
void check_linear_settings(const QuantizeOptions& options, const model::CausalLM& lm) {
  std::set<std::string> linears;
  for (int64_t layer = 0; layer < lm.num_layers(); ++layer) {
    for (const std::string& name : lm.linear_names(layer)) linears.insert(name);
  }
  for (const auto& [module, setting] : options.linear_settings) {
    PTQ_CHECK_INPUT(linears.count(module), options.linear_settings_file, ": '", module,
                    "' is not a quantized linear of ", options.model);
  }
}

void validate(QuantizeOptions& options) {
  const int bits = options.method_options.quantizer.bits;
  PTQ_CHECK_INPUT(bits >= 2 && bits <= 8, "--wbits ", bits,
                  " is not supported: ptq's GPTQ v1 checkpoints store 2 to 8 bits");
  quant::check_activation_quantizer(options.activations);
  const int group = options.method_options.group_size;
  PTQ_CHECK_INPUT(group == -1 || group >= 1, "--group-size must be -1 (per channel) or >= 1, got ",
                  group);
  PTQ_CHECK_INPUT(!options.method_options.static_groups || group > 0,
                  "--static-groups needs a --group-size");
  PTQ_CHECK_INPUT(options.target_bits == 0 || options.linear_settings_file.empty(),
                  "--target-bits chooses the linear settings: it excludes --linear-settings");
  PTQ_CHECK_INPUT(options.target_bits == 0 || options.activations.bits == 16,
                  "--target-bits measures weight-only quantization: it excludes --abits");
  PTQ_CHECK_INPUT(options.measurement.empty() || options.target_bits > 0,
                  "--measurement needs --target-bits");
  PTQ_CHECK_INPUT(options.candidates_file.empty() || options.target_bits > 0,
                  "--candidates needs --target-bits");
  if (options.target_bits > 0) {
    options.candidates = options.candidates_file.empty()
                             ? quant::default_candidates(options.method)
                             : quant::read_candidates(options.candidates_file);
    quant::MeasuringMethod(options.method, options.method_options, options.candidates);
  }
  if (!options.linear_settings_file.empty()) {
    options.linear_settings = quant::read_linear_settings(options.linear_settings_file);
    for (const auto& [module, setting] : options.linear_settings) {
      quant::check_keep_percent(setting, options.method,
                                options.linear_settings_file + ": '" + module + "'");
    }
  }
  make_method(options.method, options);  // unknown name or settings it cannot take -> InputError
  // What the run reads or writes last is checked first, so it cannot fail after the work (the
  // output folder is checked when the writer claims it, also before any work).
  if (!options.report.empty()) check_output_file(options.report, "--report");
  if (!options.measurement.empty()) check_output_file(options.measurement, "--measurement");
  data::check_dataset_spec(options.calib.spec);
  if (!options.eval.empty()) data::check_dataset_spec(options.eval);
}

int64_t default_seqlen(const std::string& spec, const model::ModelConfig& config) {
  const int64_t positions = config.max_position_embeddings;
  if (data::is_token_spec(spec)) return positions;
  return positions > 0 ? std::min(kDefaultTextSeqlen, positions) : kDefaultTextSeqlen;
}

// Q, K and V are quantized at --abits unless --no-attention-quant, without clipping: the
// authors' q/k/v_quant_params (RUQuant/DuQuant main.py) carry no lac, whatever --act-clip is.
quant::ActivationQuantizerConfig attention_config(const QuantizeOptions& options) {
  if (options.no_attention_quant) return {};
  return {options.activations.bits, 1.0};
}

// Exit 3 before calibration when its windows and activations alone cannot fit the budget (60000
// text windows once grew past 6 GB and were killed). What the process holds already is not
// added: MemAvailable has it taken off, and its resident set counts shared library pages a
// cgroup limit does not charge.
void check_memory_budget(const QuantizeOptions& options, const model::ModelConfig& config) {
  const quant::CalibrationMemory need = quant::calibration_memory(
      config.hidden_size, options.calib.nsamples, options.calib.seqlen, quant::PipelineOptions{});
  const bool given = options.memory_budget_mb > 0;
  const double budget = given ? static_cast<double>(options.memory_budget_mb) * (1 << 20)
                              : static_cast<double>(available_memory_bytes());
  if (need.total() <= budget) return;
  constexpr double kMiB = 1 << 20;
  throw MemoryError(fmt::format(
      "calibration needs {:.0f} MiB ({} windows x {} tokens: ids {:.0f} MiB, two activation "
      "buffers of {} x {} x {} in {} {:.0f} MiB), but the memory budget is {:.0f} MiB ({}): "
      "lower --nsamples or --seqlen",
      need.total() / kMiB, options.calib.nsamples, options.calib.seqlen, need.ids_bytes / kMiB,
      options.calib.nsamples, options.calib.seqlen, config.hidden_size, need.fp16 ? "fp16" : "fp32",
      need.activation_bytes / kMiB, budget / kMiB,
      given ? "--memory-budget" : "available memory: MemAvailable or the cgroup limit"));
}

quant::QuantizationFormat output_format(const QuantizeOptions& options,
                                        const quant::QuantMethod& method,
                                        bool true_sequential) {
  quant::QuantizationFormat format;
  format.bits = options.method_options.quantizer.bits;
  format.checkpoint_format =
      quant::parse_checkpoint_format(options.checkpoint_format, "--checkpoint-format");
  format.group_size = options.method_options.group_size;
  format.sym = options.method_options.quantizer.sym;
  format.desc_act = options.method_options.act_order;
  format.static_groups = options.method_options.static_groups;
  format.true_sequential = true_sequential;
  format.damp_percent = options.method_options.percdamp;
  format.method = method.name();
  format.method_fields = method.config_fields();
  format.activations = options.activations;
  format.attention = attention_config(options);
  format.dynamic = quant::dynamic_rules(format.top_setting(), options.linear_settings);
  return format;
}

void write_linear(quant::QuantizedCheckpointWriter& writer,
                  const model::CausalLM& lm,
                  const std::string& module,
                  const quant::QuantizedLinear& linear) {
  const std::string bias = module + ".bias";
  writer.add_quantized_linear(module, linear.quantized,
                              lm.has_weight(bias) ? lm.weight(bias) : at::Tensor());
  for (const auto& [suffix, tensor] : linear.extra_tensors) {
    writer.add_tensor(module + "." + suffix, tensor);
  }
}

eval::PerplexityResult evaluate(model::CausalLM& lm, const QuantizeOptions& options) {
  const int64_t seqlen = default_seqlen(options.eval, lm.config());
  if (data::is_token_spec(options.eval)) {
    const auto rows = data::load_token_rows(data::token_spec_path(options.eval), seqlen);
    return eval::evaluate_rows(lm, rows, {});
  }
  eval::PerplexityOptions ppl;
  ppl.seqlen = seqlen;
  const auto tokenizer = tokenizer::load_tokenizer(options.model);
  return eval::evaluate_perplexity(lm, tokenizer->encode(data::load_text(options.eval)), ppl);
}

// Storage of every quantized linear, in quantization order (the order of the result's
// records).
using LinearStorage = std::vector<quant::StorageBits>;

nlohmann::json storage_json(const quant::StorageBits& s) {
  return {{"bits_per_weight", s.per_weight()},
          {"weights", s.weights},
          {"code_bits", s.codes},
          {"grid_bits", s.grids},
          {"g_idx_bits", s.g_idx},
          {"extra_bits", s.extra}};
}

// Grids of every quantized linear that the v1 zero refit changed, in quantization order.
using LinearRefits = std::vector<int64_t>;

nlohmann::json linear_json(const quant::LinearRecord& r,
                           const quant::StorageBits& storage,
                           int64_t refit_groups) {
  return {{"name", r.name},
          {"shape", {r.out_features, r.in_features}},
          {"loss", r.loss},
          {"relative_error", r.relative_error},
          {"percdamp", r.percdamp},
          {"damp", r.damp},
          {"seconds", r.seconds},
          {"rtn_fallback", r.rtn_fallback},
          {"refit_groups", refit_groups},
          {"storage", storage_json(storage)}};
}

nlohmann::json layers_json(const quant::PipelineResult& result,
                           const LinearStorage& storage,
                           const LinearRefits& refits) {
  nlohmann::json layers = nlohmann::json::array();
  size_t next = 0;
  for (const quant::LayerRecord& layer : result.layers) {
    nlohmann::json linears = nlohmann::json::array();
    for (const auto& linear : layer.linears) {
      linears.push_back(linear_json(linear, storage.at(next), refits.at(next)));
      ++next;
    }
    nlohmann::json entry = {
        {"index", layer.index}, {"seconds", layer.seconds}, {"linears", linears}};
    if (!layer.refinement.is_null()) entry["refinement"] = layer.refinement;
    layers.push_back(std::move(entry));
  }
  return layers;
}

nlohmann::json settings_json(const QuantizeOptions& options, bool true_sequential) {
  const quant::MethodOptions& m = options.method_options;
  nlohmann::json settings = {
      {"model", options.model},
      {"method", options.method},
      {"wbits", m.quantizer.bits},
      {"group_size", m.group_size},
      {"linear_settings", quant::linear_settings_json(options.linear_settings)},
      {"target_bits", options.target_bits},
      {"weight_clip", m.quantizer.clip},
      {"abits", options.activations.bits},
      {"act_clip", options.activations.clip},
      {"attention_quant", attention_config(options).enabled()},
      {"sym", m.quantizer.sym},
      {"mse", m.quantizer.mse},
      {"damp", m.percdamp},
      {"block_size", m.block_size},
      {"act_order", m.act_order},
      {"static_groups", m.static_groups},
      {"true_sequential", true_sequential},
      {"calib", options.calib.spec},
      {"nsamples", options.calib.nsamples},
      {"seqlen", options.calib.seqlen},
      {"seed", options.calib.seed},
      {"out", options.out},
      {"checkpoint_format", options.checkpoint_format},
      {"max_shard_size", options.max_shard_size},
      {"eval", options.eval},
      {"threads", at::get_num_threads()}};
  settings.update(quant::method_settings(m));
  if (options.target_bits > 0) {
    settings["candidates"] = nlohmann::json::array();
    for (const auto& c : options.candidates) {
      nlohmann::json candidate = {c.bits, c.group_size};
      if (c.keep_percent >= 0) candidate.push_back(c.keep_percent);
      settings["candidates"].push_back(candidate);
    }
  }
  return settings;
}

// The report records the settings as JSON strings, which must be UTF-8: a path that is not
// would fail the report after the whole quantization.
void check_settings_encodable(const QuantizeOptions& options) {
  const nlohmann::json settings = settings_json(options, false);
  for (const auto& [key, value] : settings.items()) {
    try {
      value.dump();
    } catch (const nlohmann::json::type_error&) {
      PTQ_THROW_INPUT("the ", key, " setting is not valid UTF-8, which the JSON report needs: ",
                      value.is_string() ? printable(value.get<std::string>()) : key);
    }
  }
}

// What a checkpoint must match to be resumed: every setting that changes the output's bytes
// (threads too: they may change floating-point reduction order), the model's files and the
// calibration ids. The model path, the output, the shard size, --eval and --report may differ.
nlohmann::json resume_identity(const QuantizeOptions& options,
                               bool true_sequential,
                               const model::CausalLM& lm,
                               const at::Tensor& ids) {
  nlohmann::json identity = settings_json(options, true_sequential);
  for (const char* free : {"model", "out", "max_shard_size", "eval"}) identity.erase(free);
  identity["model_files"] = quant::model_fingerprint(options.model);
  identity["calibration_ids"] = quant::tensor_fingerprint(ids);
  identity["layers"] = lm.num_layers();
  return identity;
}

// Feeds the checkpointed layers to `output` (the writer) and sets the pipeline and the method
// to continue after them; returns their records.
std::vector<quant::LayerRecord> resume_from(quant::ResumeCheckpoint& checkpoint,
                                            const QuantizeOptions& options,
                                            model::CausalLM& lm,
                                            quant::QuantMethod& method,
                                            const quant::QuantizedLinearSink& output,
                                            quant::PipelineOptions& pipeline) {
  PTQ_CHECK_INPUT(options.resume, checkpoint.dir().string(),
                  " holds the checkpoint of an interrupted run: pass --resume to continue it, "
                  "or delete it to start over");
  PTQ_CHECK_INPUT(options.eval.empty(), "--resume cannot be combined with --eval (the layers ",
                  "quantized before the interruption are not reloaded into memory): resume "
                  "without --eval, then run ptq eval on ",
                  options.out);
  quant::FinishedLayers done = checkpoint.load();
  const int64_t layers = static_cast<int64_t>(done.layers.size());
  spdlog::info("resuming from {}: layers 0-{} of {} are done", checkpoint.dir().string(),
               layers - 1, lm.num_layers());
  for (int64_t i = 0; i < layers; ++i) {
    lm.load_layer(i);  // for the biases the writer stores
    checkpoint.replay_layer(i, output);
    lm.unload_layer(i);
  }
  method.restore_layer_state(done.method_state);
  pipeline.first_layer = layers;
  pipeline.first_inputs = done.next_inputs;
  return std::move(done.layers);
}

// Which loaders read the output (loader_support.h) and the v1 zero refit, for the log and the
// report's "checkpoint".
nlohmann::json checkpoint_json(const quant::QuantizedCheckpointWriter& writer) {
  const quant::CheckpointTraits traits = writer.traits();
  const std::vector<quant::LoaderSupport> support = quant::loader_support(traits);
  const quant::QuantizationFormat& format = traits.format;
  log_loader_support(traits);
  if (writer.refit_groups() > 0) {
    spdlog::info(
        "zero points refit to 1 (v1 cannot store 0) in {} of {} grids; "
        "--checkpoint-format gptq_v2 keeps them",
        writer.refit_groups(), writer.grids());
  }
  return {{"format", quant::checkpoint_format_name(format.checkpoint_format)},
          {"quant_method", quant::gptq_loader_bits(format) ? "gptq" : "ptq"},
          {"grids", writer.grids()},
          {"refit_groups", writer.refit_groups()},
          {"unaligned_linears", traits.unaligned_linears},
          {"loaders", quant::loader_support_json(support)}};
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

std::atomic<bool> g_interrupted{false};
volatile std::sig_atomic_t g_signal = 0;  // the first SIGINT, SIGTERM or SIGHUP received

void on_stop_signal(int signal) {
  if (g_signal == 0) g_signal = signal;
  g_interrupted = true;
}

// From here on a SIGINT, SIGTERM or SIGHUP (a closed terminal) stops the run at the next
// linear: the staging directory is removed, finished layers stay checkpointed, exit 128 + n.
void stop_on_signals() {
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) std::signal(signal, on_stop_signal);
}

int interrupted(const QuantizeOptions& options, const quant::ResumeCheckpoint& checkpoint) {
  // The writer's destructor removes its staging directory.
  const bool measuring = quant::ResumeCheckpoint::measurement_pass(checkpoint, nullptr)->exists();
  if (checkpoint.exists() || measuring) {
    spdlog::error(
        "interrupted ({}): no output written to {}; finished layers are kept in {}, "
        "rerun with --resume to continue",
        strsignal(g_signal), options.out, checkpoint.dir().string());
  } else {
    spdlog::error("interrupted ({}): no output written to {}", strsignal(g_signal), options.out);
  }
  return 128 + g_signal;
}

// The --target-bits measurement pass, checkpointed after each layer in the work folder's
// measure/ (resume_checkpoint.h) so that --resume continues it.
std::vector<quant::LinearCandidates> measure_candidates(const QuantizeOptions& options,
                                                        const quant::ResumeCheckpoint& checkpoint,
                                                        const nlohmann::json& identity,
                                                        model::CausalLM& lm,
                                                        const at::Tensor& ids,
                                                        bool true_sequential) {
  quant::MeasuringMethod measuring(options.method, options.method_options, options.candidates);
  const auto rtn = quant::create_method("rtn", options.method_options);
  quant::PipelineOptions pipeline;
  pipeline.true_sequential = true_sequential;
  pipeline.unload_layers = true;  // the quantizing pass reloads the original weights
  pipeline.relative_error = false;
  pipeline.stop = &g_interrupted;
  pipeline.progress_label = "measure";
  const auto progress = quant::ResumeCheckpoint::measurement_pass(checkpoint, identity);
  if (progress->exists()) {
    PTQ_CHECK_INPUT(options.resume, progress->dir().string(),
                    " holds an interrupted measurement: pass --resume to continue it, or delete "
                    "it to start over");
    quant::FinishedLayers done = progress->load();
    measuring.restore_layer_state(done.method_state);
    pipeline.first_layer = static_cast<int64_t>(done.layers.size());
    pipeline.first_inputs = done.next_inputs;
    spdlog::info("resuming the measurement from {}: layers 0-{} of {} are done",
                 progress->dir().string(), pipeline.first_layer - 1, lm.num_layers());
  }
  pipeline.layer_done = [&](const quant::LayerRecord& layer, const at::Tensor& next_inputs) {
    progress->finish_layer(layer, next_inputs, measuring.layer_state());
  };
  const quant::PipelineResult result = quant::quantize_model(
      lm, ids, measuring, *rtn, pipeline, [](const std::string&, const quant::QuantizedLinear&) {});
  std::vector<quant::LinearCandidates> measured = measuring.measured();
  spdlog::info("measured {} linears at {} settings in {:.1f}s", measured.size(),
               options.candidates.size(), result.seconds);
  write_json_file(checkpoint.measurement_file().string(),
                  quant::measurement_json(identity, measured));
  progress->remove();
  return measured;
}

// --target-bits: each linear's error and storage at every candidate (read from --measurement
// when it exists, else from the work folder's cache when that holds this run's, else measured
// and cached; written to a --measurement that does not exist), then the settings of least summed
// error within target_bits x the linears' weights. Its "measure_seconds" in `report`.
quant::Allocation allocate_target(const QuantizeOptions& options,
                                  const quant::ResumeCheckpoint& checkpoint,
                                  model::CausalLM& lm,
                                  const at::Tensor& ids,
                                  bool true_sequential,
                                  nlohmann::json& report) {
  const auto start = Clock::now();
  nlohmann::json identity = resume_identity(options, true_sequential, lm, ids);
  for (const char* free : {"wbits", "group_size", "linear_settings", "target_bits", "threads"}) {
    identity.erase(free);
  }
  const std::string cache = checkpoint.measurement_file().string();
  std::vector<quant::LinearCandidates> measured;
  if (!options.measurement.empty() && std::filesystem::exists(options.measurement)) {
    measured = quant::read_measurement(options.measurement, identity);
    spdlog::info("measurement of {} linears read from {}", measured.size(), options.measurement);
  } else if (std::filesystem::exists(cache)) {
    try {
      measured = quant::read_measurement(cache, identity);
      spdlog::info("measurement of {} linears reused from {}", measured.size(), cache);
    } catch (const InputError& e) {
      spdlog::info("{}: measuring again", e.what());  // ptq's own cache, replaced
    }
  }
  if (measured.empty()) {
    measured = measure_candidates(options, checkpoint, identity, lm, ids, true_sequential);
  }
  if (!options.measurement.empty() && !std::filesystem::exists(options.measurement)) {
    write_json_file(options.measurement, quant::measurement_json(identity, measured));
  }
  double weights = 0;
  for (const quant::LinearCandidates& linear : measured) weights += linear.weights;
  quant::Allocation allocation = quant::allocate_bits(measured, options.target_bits * weights);
  spdlog::info("target {} bits per weight: {:.4f} allocated, summed output error {:.6g}",
               options.target_bits, allocation.bits / weights, allocation.error);
  report = {{"target_bits", options.target_bits},
            {"storage_bits", allocation.bits},
            {"summed_error", allocation.error},
            {"measurement", options.measurement.empty() ? cache : options.measurement},
            {"measure_seconds", std::chrono::duration<double>(Clock::now() - start).count()}};
  return allocation;
}

int run_quantize(QuantizeOptions options) {
  const auto start = Clock::now();
  // What the method always uses (SEPTQ: MSE grids) is what the report and the resume identity
  // record.
  options.method_options = quant::implied_options(options.method, options.method_options);
  options.method_options.rotation.seed = options.calib.seed;  // one --seed for all randomness
  // v1 cannot store a zero point of 0 (docs/format.md): its grids are refit; v2 stores any zero.
  options.method_options.quantizer.gptq_v1_zero = options.checkpoint_format == "gptq";
  validate(options);
  check_settings_encodable(options);
  stop_on_signals();
  auto lm = quant::load_model(options.model, model::LoadOptions::lazy());
  const bool true_sequential = options.true_sequential.value_or(
      model::find_architecture(lm->config().architecture).table().true_sequential);
  if (options.calib.seqlen <= 0)
    options.calib.seqlen = default_seqlen(options.calib.spec, lm->config());
  const int64_t positions = lm->config().max_position_embeddings;
  PTQ_CHECK_INPUT(positions <= 0 || options.calib.seqlen <= positions, "--seqlen ",
                  options.calib.seqlen, " exceeds the ", positions, " positions of ",
                  options.model);
  check_memory_budget(options, lm->config());
  check_linear_settings(options, *lm);
  auto method = make_method(options.method, options);
  auto rtn = make_method("rtn", options);
  quant::QuantizationFormat format = output_format(options, *method, true_sequential);
  // Constructed before calibration so a bad output directory fails before any real work.
  quant::QuantizedCheckpointWriter writer(options.model, options.out, format,
                                          parse_size(options.max_shard_size));
  // Every finished layer is checkpointed in "<out>.work", kept until the output is written;
  // claimed now, so a second run to the same output stops here.
  quant::ResumeCheckpoint checkpoint(options.out, nullptr);
  checkpoint.lock();
  const at::Tensor ids = quant::load_calibration(options.calib, options.model);
  nlohmann::json allocation_report;
  if (options.target_bits > 0) {
    quant::Allocation allocation;
    try {
      allocation =
          allocate_target(options, checkpoint, *lm, ids, true_sequential, allocation_report);
    } catch (const quant::Interrupted&) {
      return interrupted(options, checkpoint);
    }
    options.linear_settings = allocation.settings;
    method = make_method(options.method, options);
    rtn = make_method("rtn", options);
    format = output_format(options, *method, true_sequential);  // with the chosen settings
    writer.set_per_linear_settings(format.dynamic, format.method_fields);
  }
  spdlog::info("quantizing {} with {} at W{}A{}, group size {}, {} samples x {} tokens{}",
               options.model, options.method, options.method_options.quantizer.bits,
               options.activations.bits, options.method_options.group_size, ids.size(0),
               ids.size(1), true_sequential ? ", true-sequential" : "");
  if (attention_config(options).enabled()) {
    const int64_t head_dim = lm->config().head_dim;
    spdlog::info(
        "attention: Q and K (Hadamard blocks of {} over head_dim {}) and V quantized at "
        "{} bits per token and head; probabilities in fp32",
        quant::hadamard_block_size(head_dim), head_dim, options.activations.bits);
  }
  quant::PipelineOptions pipeline;
  pipeline.true_sequential = true_sequential;
  pipeline.relative_error = options.relative_error;
  pipeline.unload_layers = options.eval.empty();  // --eval scores the in-memory model
  pipeline.stop = &g_interrupted;
  // Reserved up front: small long-lived blocks allocated between the layers' tensors would
  // pin the heap above the freed layers (QuantizeMemory measured the streamed run outgrow its
  // cgroup limit when this was a map filled per linear).
  LinearStorage storage;
  LinearRefits refits;
  size_t linears = 0;
  for (int64_t i = 0; i < lm->num_layers(); ++i) linears += lm->linear_names(i).size();
  storage.reserve(linears);
  refits.reserve(linears);
  pipeline.activations = options.activations;
  pipeline.attention = attention_config(options);
  const auto output = [&](const std::string& module, const quant::QuantizedLinear& linear) {
    write_linear(writer, *lm, module, linear);
    storage.push_back(quant::storage_bits(linear.quantized, linear.extra_tensors,
                                          quant::module_setting(format, module)->bits));
    refits.push_back(linear.quantized.refit_groups);
    spdlog::info("{}: {:.4f} effective bits per weight", module, storage.back().per_weight());
  };
  checkpoint.set_identity(resume_identity(options, true_sequential, *lm, ids));
  std::vector<quant::LayerRecord> resumed;
  if (checkpoint.exists()) {
    resumed = resume_from(checkpoint, options, *lm, *method, output, pipeline);
  } else if (options.resume) {
    spdlog::info("--resume: no checkpoint in {}, starting at layer 0", checkpoint.dir().string());
  }
  // A method that refines each layer against the full-precision model's activations cannot
  // resume (src/pipeline/pipeline.cpp): its layers are not checkpointed, so an interruption
  // neither keeps them nor suggests --resume.
  const bool checkpointed = !method->refines_layers();
  if (checkpointed) {
    pipeline.layer_done = [&](const quant::LayerRecord& layer, const at::Tensor& next_inputs) {
      checkpoint.finish_layer(layer, next_inputs, method->layer_state());
    };
  }
  const auto sink = [&](const std::string& module, const quant::QuantizedLinear& linear) {
    output(module, linear);
    if (checkpointed) checkpoint.add_linear(module, linear);
  };
  quant::PipelineResult result;
  try {
    result = quant::quantize_model(*lm, ids, *method, *rtn, pipeline, sink);
  } catch (const quant::Interrupted&) {
    return interrupted(options, checkpoint);
  }
  if (g_interrupted) return interrupted(options, checkpoint);
  result.layers.insert(result.layers.begin(), resumed.begin(), resumed.end());
  writer.finish();
  checkpoint.remove();
  if (options.target_bits > 0) {
    spdlog::info("the measurement stays in {} for other targets to {}; delete it when done",
                 checkpoint.measurement_file().string(), options.out);
  }
  // The output is complete: a signal from here on no longer stops the run, which only
  // finishes its report (exit 0 for the complete output).
  quant::StorageBits total;
  for (const quant::StorageBits& linear : storage) total += linear;
  spdlog::info("quantized linears: {:.4f} effective bits per weight ({} weights)",
               total.per_weight(), total.weights);
  nlohmann::json report = {{"settings", settings_json(options, true_sequential)},
                           {"versions", report_versions()},
                           {"layers", layers_json(result, storage, refits)},
                           {"storage", storage_json(total)},
                           {"checkpoint", checkpoint_json(writer)},
                           {"fp16_activations", result.fp16_activations},
                           {"allocation", allocation_report},
                           {"quantize_seconds", result.seconds}};
  if (!options.eval.empty()) {
    const eval::PerplexityResult ppl = evaluate(*lm, options);
    std::printf("perplexity %.6f\n", ppl.perplexity);
    report["eval"] = {{"dataset", options.eval},
                      {"perplexity", ppl.perplexity},
                      {"mean_nll", ppl.mean_nll},
                      {"tokens", ppl.tokens}};
  }
  report["peak_rss_mb"] = peak_rss_mb();
  report["total_seconds"] = std::chrono::duration<double>(Clock::now() - start).count();
  spdlog::info("wrote {} in {:.1f}s, peak RSS {:.0f} MiB", options.out,
               report["total_seconds"].get<double>(), report["peak_rss_mb"].get<double>());
  if (!options.report.empty()) write_json_file(options.report, report);
  if (g_signal != 0) {
    spdlog::warn("{} arrived after {} was complete; the output and report are whole",
                 strsignal(g_signal), options.out);
  }
  return kExitOk;
}

}  // namespace

Command add_quantize_command(CLI::App& parent) {
  auto options = std::make_shared<QuantizeOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "quantize",
      "Post-training quantization, layer by layer, into a GPTQ directory; defaults follow "
      "the GPTQ reference (asymmetric, per channel, min-max, damp 0.01, block 128, 128 "
      "samples, seed 0)");
  CLI::App& app = *command.app;
  quant::MethodOptions& m = options->method_options;
  app.add_option("--model", options->model, "Hugging Face model directory")->required();
  app.add_option("--method", options->method, "Quantization method:\n" + quant::method_help())
      ->capture_default_str();
  app.add_option("--wbits", m.quantizer.bits,
                 "Weight bits, 2 to 8 (5, 6 and 7 are read back only by ptq)")
      ->required();
  app.add_option("--weight-clip", m.quantizer.clip,
                 "Min-max weight grids span this fraction of each row's range")
      ->capture_default_str();
  app.add_option("--abits", options->activations.bits,
                 "Activation bits: each quantized linear's input is fake-quantized per token "
                 "(asymmetric min-max, at run time); 16: not quantized")
      ->capture_default_str();
  app.add_option("--act-clip", options->activations.clip,
                 "Per-token activation grids span this fraction of the token's range")
      ->capture_default_str();
  app.add_flag("--no-attention-quant", options->no_attention_quant,
               "With --abits: leave Q, K and V in floating point (by default they are "
               "fake-quantized per token and head at --abits, Q and K after a block Hadamard)");
  app.add_option("--group-size", m.group_size,
                 "Input columns per grid; -1: one grid per output channel")
      ->capture_default_str();
  app.add_option("--target-bits", options->target_bits,
                 "Effective bits per weight (as inspect counts them) for the linears: each "
                 "linear's setting (bits 2-8 x group size -1/128/64/32) is chosen to least "
                 "summed output error on the calibration set (rtn, gptq, septq). --wbits and "
                 "--group-size remain the config's top level. See docs/format.md")
      ->check(kPositive);
  app.add_option("--measurement", options->measurement,
                 "With --target-bits: reuse the measurement in this JSON file if it exists "
                 "(same settings and inputs), else write it there");
  app.add_option("--candidates", options->candidates_file,
                 "With --target-bits: JSON [{\"bits\": B, \"group_size\": G}, ...], the "
                 "settings each linear chooses from, septq's optionally with \"keep_percent\" "
                 "(default bits 2, 3, 4, 5, 6, 8 x group size -1, 128, 64, 32; septq: each at "
                 "keep 0.5, 1 and 2%)");
  app.add_option("--linear-settings", options->linear_settings_file,
                 "JSON {\"<module>\": {\"bits\": B, \"group_size\": G}}: these linears at their "
                 "own setting (rtn, gptq, septq), stored as GPTQModel's \"dynamic\" overrides; "
                 "the others at --wbits and --group-size. See docs/format.md");
  app.add_flag("--sym", m.quantizer.sym, "Symmetric grid (default asymmetric)");
  app.add_flag("--mse", m.quantizer.mse, "MSE-searched clipping (default min-max; septq: always)");
  // Written as damp_percent, which AutoGPTQ and Transformers refuse outside (0, 1).
  app.add_option("--damp", m.percdamp, "GPTQ damping, a fraction of mean(diag H), in (0, 1)")
      ->capture_default_str()
      ->check(kFraction);
  app.add_option("--block-size", m.block_size,
                 "GPTQ lazy-batch width; ruquant: the largest rotation block (each linear uses "
                 "the largest even divisor of its input width not above it)")
      ->capture_default_str()
      ->check(kPositive);
  app.add_flag("--act-order", m.act_order, "Columns by descending diag(H) (desc_act)");
  app.add_flag("--static-groups", m.static_groups, "Group grids from the unupdated weight");
  app.add_flag_function(
      "--true-sequential,!--no-true-sequential",
      [options](int64_t count) { options->true_sequential = count > 0; },
      "Quantize q/k/v, o, gate/up, down in turn (default: on for LLaMA-family models, as "
      "llama.py; off for OPT and GPT-NeoX, as opt.py)");
  app.add_flag("!--no-relative-error", options->relative_error,
               "Skip each linear's relative error tr((W-Q)H(W-Q)^T)/tr(W H W^T) in the log and "
               "report (recorded as 0): two N x K x K GEMMs per linear, more than GPTQ's solve "
               "at 7B widths");
  app.add_option("--calib", options->calib.spec,
                 "c4 | wikitext2 | ptb | PATH | tokens:PATH (int32 rows)")
      ->required();
  app.add_option("--nsamples", options->calib.nsamples, "Calibration windows")
      ->capture_default_str()
      ->check(kPositive);
  app.add_option("--seqlen", options->calib.seqlen,
                 "Window length (default: min(2048, max_position_embeddings); tokens:PATH rows "
                 "default to max_position_embeddings)")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 30));
  app.add_option("--seed", options->calib.seed,
                 "random.seed of the window draws; ruquant: seed of its random targets and "
                 "permutations")
      ->capture_default_str();
  app.add_option("--out", options->out, "Output directory (must not exist or be empty)")
      ->required();
  app.add_option("--checkpoint-format", options->checkpoint_format,
                 "gptq: v1, qzeros hold zero - 1 (AutoGPTQ, vLLM, Transformers; GPTQModel only "
                 "with --sym); gptq_v2: qzeros hold the zero (GPTQModel, recent vLLM), no zero "
                 "refit. See docs/format.md")
      ->capture_default_str()
      ->check(CLI::IsMember({"gptq", "gptq_v2"}));
  app.add_option("--max-shard-size", options->max_shard_size, "Shard size, e.g. 2GB, 500MiB")
      ->capture_default_str();
  add_report_option(app, &options->report, "Write a JSON report here");
  app.add_option("--eval", options->eval,
                 "Perplexity of the quantized model on this data set (as ptq eval --dataset)");
  app.add_option("--memory-budget", options->memory_budget_mb,
                 "MiB the run may use (default: MemAvailable, or the cgroup's limit if lower); "
                 "exit 3 before calibration when its windows and activations do not fit")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  app.add_flag("--resume", options->resume,
               "Continue an interrupted run from the layers checkpointed in OUT.work (same "
               "settings and inputs; starts at layer 0 when there is no checkpoint)");
  add_method_options(app, m);
  command.run = [options, sub = command.app] {
    check_method_options(*sub, options->method);
    return run_quantize(*options);
  };
  return command;
}

}  // namespace ptq::cli
