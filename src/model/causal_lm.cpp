#include "ptq/model/causal_lm.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "ptq/common/error.h"
#include "ptq/io/checkpoint.h"
#include "ptq/io/dtype.h"
#include "ptq/model/architecture.h"
#include "ptq/model/weight_source.h"

namespace ptq::model {
namespace {

std::string shape_string(at::IntArrayRef shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

// NaN/Inf weights would surface much later as a meaningless error (a quantization grid that
// does not fit fp16) or a NaN perplexity; name the tensor and the first bad element instead.
void check_finite(const at::Tensor& weight, const std::string& name, const std::string& file) {
  const at::Tensor bad = weight.isfinite().logical_not_().flatten();
  const int64_t count = bad.sum().item<int64_t>();
  if (count == 0) return;
  const int64_t first = bad.nonzero()[0][0].item<int64_t>();
  PTQ_THROW_INPUT("tensor '", name, "' in ", file, " has ", count,
                  " non-finite value(s) (NaN or Inf), the first at flat index ", first, " (",
                  weight.flatten()[first].item<float>(), ")");
}

// The number of decoder layers the checkpoint holds tensors of: one past the largest N in a
// "layers.N." name component (the Hugging Face module path of every supported family), 0
// when there are none.
int64_t stored_layers(const io::Checkpoint& checkpoint) {
  constexpr std::string_view kLayers = "layers.";
  int64_t count = 0;
  for (const std::string& name : checkpoint.names()) {
    for (size_t at = name.find(kLayers); at != std::string::npos; at = name.find(kLayers, at + 1)) {
      if (at > 0 && name[at - 1] != '.') continue;
      const size_t digits = at + kLayers.size();
      size_t end = digits;
      while (end < name.size() && end - digits < 10 && std::isdigit(name[end])) ++end;
      if (end == digits || end >= name.size() || name[end] != '.') continue;
      count = std::max<int64_t>(count, std::stoll(name.substr(digits, end - digits)) + 1);
    }
  }
  return count;
}

// A missing "<module>.weight" beside a "<module>.qweight" is a quantized linear, which plain
// loading does not read: say what reads it instead of only that the weight is missing.
std::string quantized_hint(const io::Checkpoint& checkpoint, const std::string& name) {
  constexpr std::string_view kWeight = ".weight";
  if (name.size() <= kWeight.size() ||
      name.compare(name.size() - kWeight.size(), kWeight.size(), kWeight) != 0) {
    return "";
  }
  const std::string quantized = name.substr(0, name.size() - kWeight.size()) + ".qweight";
  if (!checkpoint.contains(quantized)) return "";
  return "; '" + quantized +
         "' is there: a GPTQ directory needs a quantization config (docs/format.md) and is read "
         "with quant::load_model (ptq/format/quantized_checkpoint.h)";
}

// The model of `config`'s architecture with `checkpoint`'s weights.
std::unique_ptr<CausalLM> create_model(ModelConfig config,
                                       std::shared_ptr<const io::Checkpoint> checkpoint,
                                       const LoadOptions& options) {
  // Before anything is sized by the config's count: a config claiming a million layers had
  // their tensor lists built (2 GB) before a tensor was found missing; one claiming fewer
  // silently dropped the rest.
  const int64_t stored = stored_layers(*checkpoint);
  PTQ_CHECK_INPUT(stored == config.num_layers, checkpoint->dir(), "/config.json says ",
                  config.num_layers,
                  " layers (num_hidden_layers) but the checkpoint holds tensors of ", stored,
                  " (layers.0 to layers.", stored - 1, ")");
  const Architecture& arch = find_architecture(config.architecture);
  return arch.create(std::move(config), std::move(checkpoint), options);
}

}  // namespace

int64_t KVCache::length() const {
  return keys.empty() || !keys.front().defined() ? 0 : keys.front().size(2);
}

at::Tensor CausalLM::forward(const at::Tensor& ids, KVCache* cache) const {
  // Read once: layer 0 extends the cache before the later layers run.
  const int64_t offset = cache ? cache->length() : 0;
  at::Tensor hidden = embed(ids, offset);
  for (int64_t i = 0; i < num_layers(); ++i) {
    hidden = forward_layer(i, hidden, offset, cache, nullptr);
  }
  return logits(hidden);
}

at::Tensor& CausalLM::weight(const std::string& name) {
  auto it = _weights.find(name);
  PTQ_CHECK_INPUT(it != _weights.end(), _config.architecture, " has no weight '", name, "'");
  return it->second;
}

const at::Tensor& CausalLM::weight(const std::string& name) const {
  return const_cast<CausalLM*>(this)->weight(name);
}

bool CausalLM::has_weight(const std::string& name) const { return _weights.count(name) > 0; }

std::vector<std::string> CausalLM::linear_names(int64_t index) const {
  std::vector<std::string> names;
  for (const LayerLinear& linear : layer_linears(index)) names.push_back(linear.name);
  return names;
}

std::vector<std::string> CausalLM::spec_names(const std::vector<TensorSpec>& specs) {
  std::vector<std::string> names;
  for (const TensorSpec& spec : specs) names.push_back(spec.name);
  return names;
}

void CausalLM::load_weights(std::shared_ptr<const io::Checkpoint> checkpoint,
                            const LoadOptions& options,
                            const std::vector<TensorSpec>& global_specs,
                            const std::function<std::vector<TensorSpec>(int64_t)>& layer_specs) {
  _checkpoint = std::move(checkpoint);
  _source = options.source;
  _global_specs = global_specs;
  for (int64_t i = 0; i < num_layers(); ++i) _layer_specs[i] = layer_specs(i);
  // Every layer is checked before any is read, so a broken checkpoint fails before work.
  for (const TensorSpec& spec : _global_specs) check_tensor(spec);
  for (const auto& specs : _layer_specs) {
    for (const TensorSpec& spec : specs) check_tensor(spec);
  }
  for (const TensorSpec& spec : _global_specs) read_tensor(spec);
  _layer_loaded.assign(num_layers(), false);
  if (options.keep_stored_dtype) {
    for (const auto& specs : _layer_specs) {
      for (const TensorSpec& spec : specs) keep_stored(spec);
    }
    return;
  }
  if (options.lazy_layers) return;
  for (int64_t i = 0; i < num_layers(); ++i) load_layer(i);
}

bool CausalLM::from_source(const TensorSpec& spec) const {
  return _source && _source->provides(*_checkpoint, spec.name, spec.shape);
}

void CausalLM::check_tensor(const TensorSpec& spec) const {
  if (from_source(spec)) return;
  PTQ_CHECK_INPUT(_checkpoint->contains(spec.name), "tensor '", spec.name,
                  "' not found in checkpoint ", _checkpoint->dir(), " (", _config.architecture,
                  " needs it)", _source ? "" : quantized_hint(*_checkpoint, spec.name));
  const io::TensorEntry& stored = _checkpoint->entry(spec.name);
  const std::string& file = _checkpoint->file_of(spec.name);
  PTQ_CHECK_INPUT(stored.shape == spec.shape, "tensor '", spec.name, "' in ", file, " has shape ",
                  shape_string(stored.shape), ", config.json implies ", shape_string(spec.shape));
  PTQ_CHECK_INPUT(at::isFloatingType(io::to_scalar_type(stored.dtype)), "tensor '", spec.name,
                  "' in ", file, " has non-floating dtype ", io::dtype_name(stored.dtype));
}

void CausalLM::keep_stored(const TensorSpec& spec) {
  if (from_source(spec)) return;
  // A copy: the mapped view's pages are released right after, as read_tensor's are.
  at::Tensor stored = _checkpoint->tensor(spec.name).clone(at::MemoryFormat::Contiguous);
  _checkpoint->release(spec.name);
  check_finite(stored, spec.name, _checkpoint->file_of(spec.name));
  _stored[spec.name] = std::move(stored);
}

void CausalLM::read_tensor(const TensorSpec& spec) {
  const auto stored = _stored.find(spec.name);
  if (stored != _stored.end()) {
    _weights[spec.name] = stored->second.to(at::kFloat);  // no copy when stored as fp32
    return;
  }
  if (auto served = _source ? _source->load(*_checkpoint, spec.name) : std::nullopt) {
    check_finite(*served, spec.name, _checkpoint->dir());
    _weights[spec.name] = std::move(*served);
    return;
  }
  // A copy even for fp32: the stored tensor is a read-only view of the mapped file, and
  // callers may overwrite weights (quantization).
  at::Tensor weight = _checkpoint->tensor(spec.name)
                          .to(at::kFloat, /*non_blocking=*/false, /*copy=*/true)
                          .contiguous();
  _checkpoint->release(spec.name);
  check_finite(weight, spec.name, _checkpoint->file_of(spec.name));
  _weights[spec.name] = std::move(weight);
}

void CausalLM::check_layer_index(int64_t index) const {
  PTQ_CHECK_INPUT(index >= 0 && index < num_layers(), "layer ", index,
                  " is out of range: ", _config.architecture, " has ", num_layers(), " layers");
}

void CausalLM::load_layer(int64_t index) {
  check_layer_index(index);
  if (_layer_loaded[index]) return;
  for (const TensorSpec& spec : _layer_specs[index]) read_tensor(spec);
  _layer_loaded[index] = true;
}

void CausalLM::unload_layer(int64_t index) {
  check_layer_index(index);
  for (const std::string& name : layer_weight_names(index)) _weights.erase(name);
  _layer_loaded[index] = false;
}

bool CausalLM::layer_loaded(int64_t index) const {
  check_layer_index(index);
  return _layer_loaded[index];
}

std::vector<std::string> CausalLM::layer_weight_names(int64_t index) const {
  check_layer_index(index);
  return spec_names(_layer_specs[index]);
}

std::vector<std::string> CausalLM::global_weight_names() const { return spec_names(_global_specs); }

void CausalLM::check_layer_loaded(int64_t index) const {
  if (layer_loaded(index)) return;
  throw std::logic_error(detail::concat("layer ", index, " of ", _config.architecture,
                                        " is not loaded: call load_layer(", index,
                                        ") before forward_layer"));
}

void CausalLM::set_input_transform(const std::string& module, TensorMap transform) {
  _linear_inputs[module].transform = std::move(transform);
}

void CausalLM::set_input_quantizer(const std::string& module, TensorMap quantize) {
  _linear_inputs[module].quantize = std::move(quantize);
}

void CausalLM::set_attention_quantizer(int64_t index, AttentionInputs quantize) {
  check_layer_index(index);
  _attention_inputs[index] = std::move(quantize);
}

const AttentionInputs* CausalLM::attention_quantizer(int64_t index) const {
  const auto it = _attention_inputs.find(index);
  return it == _attention_inputs.end() ? nullptr : &it->second;
}

at::Tensor CausalLM::linear(const std::string& module,
                            const at::Tensor& input,
                            const LinearInputObserver* observer) const {
  const auto treatment = _linear_inputs.find(module);
  const LinearInput* in = treatment == _linear_inputs.end() ? nullptr : &treatment->second;
  at::Tensor x = in && in->transform ? in->transform(input) : input;
  // Observers (calibration) see what the weight multiplies, before activation quantization.
  if (observer) (*observer)(module, x);
  if (in && in->quantize) x = in->quantize(x);
  const auto bias = _weights.find(module + ".bias");
  return at::linear(x, weight(module + ".weight"),
                    bias == _weights.end() ? at::Tensor() : bias->second);
}

std::unique_ptr<CausalLM> load_causal_lm(const std::string& dir, const LoadOptions& options) {
  // config.json first: a directory without one is named as such, not for its missing weights.
  ModelConfig config = load_model_config(dir);
  return create_model(std::move(config), std::make_shared<const io::Checkpoint>(dir), options);
}

std::unique_ptr<CausalLM> load_causal_lm(std::shared_ptr<const io::Checkpoint> checkpoint,
                                         const LoadOptions& options) {
  ModelConfig config = load_model_config(checkpoint->dir());
  return create_model(std::move(config), std::move(checkpoint), options);
}

}  // namespace ptq::model
