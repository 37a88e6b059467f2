#include "ptq/pipeline/pipeline.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>

#include "ptq/common/error.h"
#include "ptq/common/heap.h"
#include "ptq/common/logging.h"
#include "ptq/common/progress.h"
#include "ptq/common/timing.h"
#include "ptq/quant/attention_quantizer.h"
#include "ptq/quant/gptq.h"
#include "ptq/quant/relative_error.h"

namespace ptq::quant {
namespace {

using Clock = std::chrono::steady_clock;

// A batch's attention scores and MLP activations: small enough to stay in cache-friendly
// allocations (large batches measured slower on stories260K), large enough for GEMMs.
constexpr int64_t kBatchBytes = int64_t{32} << 20;

void check_not_stopped(const PipelineOptions& options) {
  if (options.stop != nullptr && options.stop->load()) throw Interrupted();
}

// The two activation buffers of the reference's inps/outs, swapped after each layer.
struct Activations {
  at::Tensor inputs;   // [nsamples, seqlen, hidden]
  at::Tensor outputs;  // same shape and dtype
  // Refining methods only: the full-precision model's inputs to the current layer (the
  // reference stream), from which the layer's refinement targets come; same shape and dtype.
  at::Tensor reference;
};

Activations embed_calibration(const model::CausalLM& lm,
                              const at::Tensor& ids,
                              const PipelineOptions& options,
                              PipelineResult& result) {
  const int64_t n = ids.size(0);
  const int64_t t = ids.size(1);
  const int64_t d = lm.config().hidden_size;
  result.fp16_activations = calibration_memory(d, n, t, options).fp16;
  const at::ScalarType dtype = result.fp16_activations ? at::kHalf : at::kFloat;
  if (result.fp16_activations) {
    spdlog::info("calibration activations stored in fp16: fp32 needs {} MiB, budget {} MiB",
                 (2 * n * t * d * 4) >> 20, options.activation_budget_mb);
  }
  Activations act{at::empty({n, t, d}, at::TensorOptions().dtype(dtype)),
                  at::empty({n, t, d}, at::TensorOptions().dtype(dtype)), at::Tensor()};
  for (int64_t s = 0; s < n; ++s) {
    act.inputs[s].copy_(lm.embed(ids.slice(0, s, s + 1), 0)[0]);
  }
  return act;
}

// A resumed run's buffers: a writable copy of the checkpointed inputs (those may be a
// read-only file mapping) and an output buffer like it.
Activations resumed_activations(const model::CausalLM& lm,
                                const at::Tensor& ids,
                                const PipelineOptions& options,
                                PipelineResult& result) {
  const at::Tensor& saved = options.first_inputs;
  PTQ_CHECK_INPUT(saved.defined() && saved.dim() == 3 && saved.size(0) == ids.size(0) &&
                      saved.size(1) == ids.size(1) && saved.size(2) == lm.config().hidden_size,
                  "resumed calibration activations must be [", ids.size(0), ", ", ids.size(1), ", ",
                  lm.config().hidden_size, "]");
  result.fp16_activations = saved.scalar_type() == at::kHalf;
  return {saved.clone(at::MemoryFormat::Contiguous), at::empty_like(saved), at::Tensor()};
}

// Progress starts at the first layer to quantize.
void report_resumed(Progress& progress, int64_t first_layer) {
  if (first_layer > 0) {
    progress.advance(first_layer, fmt::format("layers 0-{} from the checkpoint", first_layer - 1));
  }
}

int64_t batch_size(const model::CausalLM& lm,
                   int64_t nsamples,
                   int64_t seqlen,
                   const PipelineOptions& options) {
  if (options.batch_size > 0) return std::min(options.batch_size, nsamples);
  const model::ModelConfig& c = lm.config();
  const int64_t width = std::max(c.hidden_size, c.intermediate_size);
  const int64_t per_sample = 4 * seqlen * (seqlen * std::max<int64_t>(c.num_heads, 1) + 4 * width);
  return std::clamp<int64_t>(kBatchBytes / std::max<int64_t>(per_sample, 1), 1, nsamples);
}

// Thrown by an observer that has seen every input it needs of a batch: the rest of the layer
// (e.g. the MLP after o_proj's input) would be computed only to be discarded.
struct BatchInputsSeen {};

// Runs layer `index` over all inputs, in batches; outputs are stored when `outputs` is defined.
// A batch ends early when the observer throws BatchInputsSeen.
void run_layer(const model::CausalLM& lm,
               int64_t index,
               const at::Tensor& inputs,
               const at::Tensor& outputs,
               int64_t batch,
               const model::LinearInputObserver* observer) {
  // Every batch allocates the same temporaries: reuse their pages rather than fault in fresh
  // mappings per batch.
  const BatchHeap reuse;
  for (int64_t begin = 0; begin < inputs.size(0); begin += batch) {
    const int64_t end = std::min(begin + batch, inputs.size(0));
    const at::Tensor x = inputs.slice(0, begin, end).to(at::kFloat);
    try {
      const at::Tensor y = lm.forward_layer(index, x, 0, nullptr, observer);
      if (outputs.defined()) outputs.slice(0, begin, end).copy_(y);
    } catch (const BatchInputsSeen&) {
    }
  }
}

// The Hessians of one true-sequential group. Linears fed the very same input tensor (LLaMA's
// q/k/v and gate/up, OPT's q/k/v) share one accumulation: the same products in the same order
// would give them bit-identical Hessians, at a K x K x tokens GEMM each.
class GroupHessians {
 public:
  explicit GroupHessians(const std::vector<std::string>& group) {
    for (const std::string& name : group) _owner.emplace(name, "");
  }

  // gptq.py add_batch of `input` for linear `name`, each sample counted once.
  void observe(const std::string& name, const at::Tensor& input) {
    const auto it = _owner.find(name);
    if (it == _owner.end()) return;
    const bool same_as_last =
        _last_input.defined() && input.unsafeGetTensorImpl() == _last_input.unsafeGetTensorImpl();
    if (it->second.empty()) {  // first batch: the sharing is decided once
      it->second = same_as_last ? _last_owner : name;
      if (it->second == name) {
        _accumulators.emplace(name, HessianAccumulator(input.size(-1)));
        _shared.emplace(name, std::make_shared<SharedPreparation>());
      }
    } else if (it->second != name) {
      TORCH_CHECK(same_as_last && _last_owner == it->second, "the inputs of ", name, " and ",
                  it->second, " differed in a later batch");
    }
    // Held until the next observation, so no other tensor can reuse its address meanwhile.
    _last_input = input;
    _last_owner = it->second;
    if (it->second == name) _accumulators.at(name).add_batch(input);
  }

  // consumable: whether nothing reads a Hessian after its linears are quantized (no
  // relative-error diagnostic, a fallback without Hessian). Then a Hessian of one linear alone
  // (o_proj, down_proj) goes to the method as LinearStats::hessian_consumable, the
  // accumulator's storage with it: read no more here.
  LinearStats stats(const std::string& name, bool consumable) const {
    const auto it = _owner.find(name);
    if (it == _owner.end() || it->second.empty()) return {};
    const HessianAccumulator& h = _accumulators.at(it->second);
    if (consumable && sole_user(it->second)) return {h.hessian(), h.samples(), nullptr, true};
    return {h.hessian(), h.samples(), _shared.at(it->second), false};
  }

 private:
  bool sole_user(const std::string& owner) const {
    return std::count_if(_owner.begin(), _owner.end(),
                         [&](const auto& entry) { return entry.second == owner; }) == 1;
  }

  std::map<std::string, std::string> _owner;  // linear -> whose accumulator holds its Hessian
  std::map<std::string, HessianAccumulator> _accumulators;
  // Per accumulator: its linears share the method's preparation of the Hessian too.
  std::map<std::string, std::shared_ptr<SharedPreparation>> _shared;
  at::Tensor _last_input;
  std::string _last_owner;
};

GroupHessians collect_hessians(const model::CausalLM& lm,
                               int64_t index,
                               const std::vector<std::string>& group,
                               const at::Tensor& inputs,
                               int64_t batch) {
  GroupHessians hessians(group);
  // Each batch runs only the prefix of the layer up to the group's last input (q/k/v's inputs
  // need just the norm, o_proj's the attention): the Hessians see the same inputs as from a
  // full pass, at about 3.3 instead of 5 layer passes per layer with true-sequential groups.
  std::set<std::string> seen;  // of the group, in this batch
  const model::LinearInputObserver observer = [&](const std::string& name,
                                                  const at::Tensor& input) {
    hessians.observe(name, input);
    if (std::find(group.begin(), group.end(), name) != group.end()) seen.insert(name);
    if (seen.size() == group.size()) {
      seen.clear();
      throw BatchInputsSeen();
    }
  };
  run_layer(lm, index, inputs, at::Tensor(), batch, &observer);
  TORCH_CHECK(seen.empty(), "layer ", index, " did not feed every linear of its group");
  return hessians;
}

struct LayerContext {
  model::CausalLM& lm;
  QuantMethod& method;
  QuantMethod& fallback;
  const QuantizedLinearSink& sink;
  Progress& progress;  // one step per decoder layer
  const ActivationQuantizerConfig& activations;
  const ActivationQuantizerConfig& attention;
  bool relative_error;  // PipelineOptions::relative_error
};

QuantizedLinear quantize_or_fall_back(const LayerContext& ctx,
                                      const std::string& name,
                                      const at::Tensor& weight,
                                      const LinearStats& stats,
                                      LinearRecord& record) {
  try {
    return ctx.method.quantize_linear(name, weight, stats);
  } catch (const InputError& e) {
    PTQ_THROW_INPUT(name, ": ", e.what());
  } catch (const std::runtime_error& e) {
    spdlog::warn("{}: {} failed ({}); using {} for this linear", name, ctx.method.name(), e.what(),
                 ctx.fallback.name());
    record.rtn_fallback = true;
    return ctx.fallback.quantize_linear(name, weight, stats);
  }
}

LinearRecord quantize_linear(const LayerContext& ctx,
                             const std::string& name,
                             const LinearStats& stats) {
  const auto start = Clock::now();
  ctx.progress.note(name);
  at::Tensor& weight = ctx.lm.weight(name + ".weight");
  LinearRecord record;
  record.name = name;
  record.out_features = weight.size(0);
  record.in_features = weight.size(1);
  const QuantizedLinear q = quantize_or_fall_back(ctx, name, weight, stats, record);
  if (ctx.relative_error && stats.hessian.defined()) {
    record.relative_error = relative_error(weight, q.quantized.weight, stats.hessian);
  }
  record.loss = q.loss;
  record.percdamp = q.percdamp;
  record.damp = q.damp;
  weight.copy_(q.quantized.weight);
  if (ctx.activations.enabled()) {
    ctx.lm.set_input_quantizer(name, per_token_quantizer(ctx.activations));
  }
  if (ctx.sink) ctx.sink(name, q);
  record.seconds = seconds_since(start);
  spdlog::info("{} [{}x{}] loss {:.4g} rel.err {:.4g} percdamp {:g}{} {:.2f}s", name,
               record.out_features, record.in_features, record.loss, record.relative_error,
               record.percdamp, record.rtn_fallback ? " (RTN fallback)" : "", record.seconds);
  return record;
}

// QuantMethod::refine_layer on a quantized layer whose linears `held` has kept from the sink:
// the refined weights go into the model, then every linear reaches the sink once, in order.
void refine_layer(const LayerContext& ctx,
                  int64_t index,
                  const Activations& act,
                  std::map<std::string, QuantizedLinear>& held,
                  LayerRecord& record) {
  RefinedLayer refined = ctx.method.refine_layer(
      {ctx.lm, index, act.inputs, act.outputs, ctx.activations, ctx.attention});
  record.refinement = std::move(refined.summary);
  for (auto& [name, q] : refined.linears) {
    ctx.lm.weight(name + ".weight").copy_(q.quantized.weight);
    held.at(name) = std::move(q);
  }
  if (!ctx.sink) return;
  for (const LinearRecord& linear : record.linears) ctx.sink(linear.name, held.at(linear.name));
}

// Whether `group` holds a linear of layer `index` that computes queries, keys or values.
bool has_attention_input(const model::CausalLM& lm,
                         int64_t index,
                         const std::vector<std::string>& group) {
  for (const model::LayerLinear& linear : lm.layer_linears(index)) {
    if (model::is_attention_input(linear.role) &&
        std::find(group.begin(), group.end(), linear.name) != group.end()) {
      return true;
    }
  }
  return false;
}

// Once `group` has quantized the q/k/v linears of layer `index`, its attention operands are
// quantized too, as a linear's input is from the moment the linear is quantized.
void quantize_attention_after(const LayerContext& ctx,
                              int64_t index,
                              const std::vector<std::string>& group) {
  if (!ctx.attention.enabled() || !has_attention_input(ctx.lm, index, group)) return;
  ctx.lm.set_attention_quantizer(index,
                                 attention_quantizer(ctx.attention, ctx.lm.config().head_dim));
}

LayerRecord quantize_layer(const LayerContext& ctx,
                           int64_t index,
                           Activations& act,
                           int64_t batch,
                           const PipelineOptions& options) {
  const auto start = Clock::now();
  // Past an overflow every statistic of this layer and the next would be garbage: stop here.
  PTQ_CHECK_INPUT(act.inputs.isfinite().all().item<bool>(), "the calibration activations ",
                  "entering layer ", index, " are not finite (NaN or Inf): the model overflows",
                  act.inputs.scalar_type() == at::kHalf
                      ? " the fp16 range (+-65504) they are kept in to fit the activation budget"
                      : "");
  LayerRecord record;
  record.index = index;
  const auto run = [&](const at::Tensor& hidden, const model::LinearInputObserver& observer) {
    run_layer(ctx.lm, index, hidden, at::Tensor(), batch, &observer);
  };
  // A refining method's targets: the full-precision layer on the reference stream (the
  // full-precision model's own inputs, as the RUQuant/OmniQuant authors' fp_inps), in the spare
  // buffer; they are the next layer's reference, and the layer's outputs overwrite the buffer.
  const bool refines = ctx.method.refines_layers();
  if (refines) run_layer(ctx.lm, index, act.reference, act.outputs, batch, nullptr);
  std::map<std::string, QuantizedLinear> held;
  const QuantizedLinearSink hold = [&](const std::string& name, const QuantizedLinear& q) {
    held[name] = q;
  };
  const LayerContext linear_ctx{
      ctx.lm,       ctx.method,      ctx.fallback,  refines ? hold : ctx.sink,
      ctx.progress, ctx.activations, ctx.attention, ctx.relative_error};
  for (const auto& group : linear_groups(ctx.lm, index, options.true_sequential)) {
    ctx.method.prepare_group({ctx.lm, index, group, act.inputs, run});
    const GroupHessians hessians = ctx.method.needs_hessian()
                                       ? collect_hessians(ctx.lm, index, group, act.inputs, batch)
                                       : GroupHessians({});
    const bool consumable = !ctx.relative_error && !ctx.fallback.needs_hessian();
    for (const std::string& name : group) {
      check_not_stopped(options);
      record.linears.push_back(quantize_linear(linear_ctx, name, hessians.stats(name, consumable)));
    }
    quantize_attention_after(ctx, index, group);
  }
  if (refines) {
    refine_layer(ctx, index, act, held, record);
    act.reference.copy_(act.outputs);
  }
  run_layer(ctx.lm, index, act.inputs, act.outputs, batch, nullptr);
  std::swap(act.inputs, act.outputs);
  record.seconds = seconds_since(start);
  return record;
}

void report_layer_done(Progress& progress, const LayerRecord& layer) {
  progress.advance(1, fmt::format("layer {} in {:.2f} s", layer.index, layer.seconds));
}

// A method without statistics (RTN) sees no activations, so no forward pass is needed.
PipelineResult quantize_without_data(model::CausalLM& lm,
                                     QuantMethod& method,
                                     const PipelineOptions& options,
                                     const QuantizedLinearSink& sink) {
  const auto start = Clock::now();
  PipelineResult result;
  Progress progress(options.progress_label, lm.num_layers());
  const LayerContext ctx{lm,
                         method,
                         method,
                         sink,
                         progress,
                         options.activations,
                         options.attention,
                         /*relative_error=*/false};
  report_resumed(progress, options.first_layer);
  for (int64_t i = options.first_layer; i < lm.num_layers(); ++i) {
    const auto layer_start = Clock::now();
    lm.load_layer(i);
    LayerRecord layer;
    layer.index = i;
    const std::vector<std::string> names = lm.linear_names(i);
    for (const std::string& name : names) {
      check_not_stopped(options);
      layer.linears.push_back(quantize_linear(ctx, name, {}));
    }
    quantize_attention_after(ctx, i, names);
    if (options.unload_layers) lm.unload_layer(i);
    layer.seconds = seconds_since(layer_start);
    result.layers.push_back(std::move(layer));
    if (options.layer_done) options.layer_done(result.layers.back(), at::Tensor());
    report_layer_done(progress, result.layers.back());
  }
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace

std::vector<std::vector<std::string>> linear_groups(const model::CausalLM& lm,
                                                    int64_t layer,
                                                    bool true_sequential) {
  if (!true_sequential) return {lm.linear_names(layer)};
  std::map<int, std::vector<std::string>> by_stage;
  for (const model::LayerLinear& linear : lm.layer_linears(layer)) {
    by_stage[linear.stage].push_back(linear.name);
  }
  std::vector<std::vector<std::string>> groups;
  for (auto& entry : by_stage) groups.push_back(std::move(entry.second));
  return groups;
}

CalibrationMemory calibration_memory(int64_t hidden,
                                     int64_t nsamples,
                                     int64_t seqlen,
                                     const PipelineOptions& options) {
  const double values = static_cast<double>(nsamples) * static_cast<double>(seqlen);
  const double fp32_bytes = 2 * values * static_cast<double>(hidden) * 4;
  CalibrationMemory memory;
  memory.ids_bytes = values * 8;
  memory.fp16 = fp32_bytes > static_cast<double>(options.activation_budget_mb << 20);
  memory.activation_bytes = memory.fp16 ? fp32_bytes / 2 : fp32_bytes;
  return memory;
}

PipelineResult quantize_model(model::CausalLM& lm,
                              const at::Tensor& ids,
                              QuantMethod& method,
                              QuantMethod& fallback,
                              const PipelineOptions& options,
                              const QuantizedLinearSink& sink) {
  PTQ_CHECK_INPUT(ids.dim() == 2 && ids.size(0) > 0, "calibration ids must be [nsamples, seqlen]");
  PTQ_CHECK_INPUT(options.first_layer >= 0 && options.first_layer <= lm.num_layers(),
                  "cannot resume at layer ", options.first_layer, " of ", lm.num_layers());
  const auto start = Clock::now();
  PipelineResult result;
  if (!method.needs_calibration()) return quantize_without_data(lm, method, options, sink);
  Activations act = options.first_layer > 0 ? resumed_activations(lm, ids, options, result)
                                            : embed_calibration(lm, ids, options, result);
  if (method.refines_layers()) {
    // A checkpoint holds the quantized stream only; the reference would need the full-precision
    // layers before first_layer run again.
    PTQ_CHECK_INPUT(options.first_layer == 0, "cannot resume at layer ", options.first_layer, ": ",
                    method.name(), " refines each layer against the full-precision model's ",
                    "own activations, which a checkpoint does not keep; start the run again");
    act.reference = act.inputs.clone();
  }
  const int64_t batch = batch_size(lm, ids.size(0), ids.size(1), options);
  Progress progress(options.progress_label, lm.num_layers());
  const LayerContext ctx{lm,
                         method,
                         fallback,
                         sink,
                         progress,
                         options.activations,
                         options.attention,
                         options.relative_error};
  report_resumed(progress, options.first_layer);
  for (int64_t i = options.first_layer; i < lm.num_layers(); ++i) {
    check_not_stopped(options);
    lm.load_layer(i);
    result.layers.push_back(quantize_layer(ctx, i, act, batch, options));
    if (options.unload_layers) lm.unload_layer(i);
    if (options.layer_done) options.layer_done(result.layers.back(), act.inputs);
    report_layer_done(progress, result.layers.back());
  }
  result.seconds = seconds_since(start);
  return result;
}

}  // namespace ptq::quant
