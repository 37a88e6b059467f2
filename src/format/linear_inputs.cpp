#include "ptq/format/linear_inputs.h"

#include <ATen/ATen.h>

#include <memory>

#include "ptq/format/quantized_checkpoint.h"
#include "ptq/io/checkpoint.h"
#include "ptq/model/causal_lm.h"
#include "ptq/quant/activation_quantizer.h"
#include "ptq/quant/attention_quantizer.h"
#include "ptq/quant/input_transform.h"

namespace ptq::quant {

void install_linear_inputs(model::CausalLM& lm, const io::Checkpoint& checkpoint) {
  const std::optional<QuantizationFormat> format = find_quantization_format(checkpoint.dir());
  if (!format) return;
  const ActivationQuantizerConfig activations = format->activations;
  for (int64_t i = 0; i < lm.num_layers(); ++i) {
    bool attention_inputs_quantized = true;
    for (const model::LayerLinear& linear : lm.layer_linears(i)) {
      const std::string& module = linear.name;
      if (auto t = read_input_transform(checkpoint, module)) {
        auto shared = std::make_shared<const InputTransform>(std::move(*t));
        lm.set_input_transform(module, [shared](const at::Tensor& x) { return shared->apply(x); });
      }
      const bool quantized = checkpoint.contains(module + ".qweight");
      if (activations.enabled() && quantized) {
        lm.set_input_quantizer(module, per_token_quantizer(activations));
      }
      if (model::is_attention_input(linear.role)) attention_inputs_quantized &= quantized;
    }
    // As the pipeline does: attention operands are quantized in layers whose q/k/v are.
    if (format->attention.enabled() && attention_inputs_quantized) {
      lm.set_attention_quantizer(i, attention_quantizer(format->attention, lm.config().head_dim));
    }
  }
}

}  // namespace ptq::quant
