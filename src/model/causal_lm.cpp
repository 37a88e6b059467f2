#include "ptq/model/causal_lm.h"

#include <ATen/ATen.h>

#include <sstream>

#include "ptq/common/error.h"
#include "ptq/io/checkpoint.h"
#include "ptq/model/architecture.h"

namespace ptq::model {
namespace {

std::string shape_string(at::IntArrayRef shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
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

void CausalLM::add_linear_spec(std::vector<TensorSpec>& specs,
                               const std::string& module,
                               int64_t out_features,
                               int64_t in_features,
                               bool bias) {
  specs.push_back({module + ".weight", {out_features, in_features}});
  if (bias) specs.push_back({module + ".bias", {out_features}});
}

void CausalLM::add_norm_spec(std::vector<TensorSpec>& specs,
                             const std::string& module,
                             int64_t dim,
                             bool bias) {
  specs.push_back({module + ".weight", {dim}});
  if (bias) specs.push_back({module + ".bias", {dim}});
}

void CausalLM::load_weights(const io::Checkpoint& checkpoint,
                            const std::vector<TensorSpec>& specs) {
  for (const TensorSpec& spec : specs) {
    PTQ_CHECK_INPUT(checkpoint.contains(spec.name), "tensor '", spec.name,
                    "' not found in checkpoint ", checkpoint.dir(), " (", _config.architecture,
                    " needs it)");
    const at::Tensor stored = checkpoint.tensor(spec.name);
    const std::string& file = checkpoint.file_of(spec.name);
    PTQ_CHECK_INPUT(stored.sizes() == at::IntArrayRef(spec.shape), "tensor '", spec.name, "' in ",
                    file, " has shape ", shape_string(stored.sizes()), ", config.json implies ",
                    shape_string(spec.shape));
    PTQ_CHECK_INPUT(at::isFloatingType(stored.scalar_type()), "tensor '", spec.name, "' in ", file,
                    " has non-floating dtype ", stored.scalar_type());
    // A copy even for fp32: the stored tensor is a read-only view of the mapped file, and
    // callers may overwrite weights (quantization).
    _weights[spec.name] = stored.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true).contiguous();
  }
}

at::Tensor CausalLM::linear(const std::string& module,
                            const at::Tensor& input,
                            const LinearInputObserver* observer) const {
  if (observer) (*observer)(module, input);
  const auto bias = _weights.find(module + ".bias");
  return at::linear(input, weight(module + ".weight"),
                    bias == _weights.end() ? at::Tensor() : bias->second);
}

std::unique_ptr<CausalLM> load_causal_lm(const std::string& dir) {
  ModelConfig config = load_model_config(dir);
  const io::Checkpoint checkpoint(dir);
  const Architecture& arch = find_architecture(config.architecture);
  return arch.create(std::move(config), checkpoint);
}

}  // namespace ptq::model
