#pragma once
// quant::load_model's step (ptq/format/quantized_checkpoint.h) for quantized directories
// whose linears treat their inputs: the stored input transforms (input_transform.h) and the
// activation quantizer of the quantization config (meta.act_bits, docs/format.md) and the
// attention quantizer (meta.attn_bits).

namespace ptq::io {
class Checkpoint;
}
namespace ptq::model {
class CausalLM;
}

namespace ptq::quant {

// Gives every decoder linear of `lm` its stored InputTransform, every linear stored quantized
// the directory's activation quantizer, and every layer whose q/k/v linears are all stored
// quantized the directory's attention quantizer (meta.attn_bits). A no-op for an unquantized
// directory.
void install_linear_inputs(model::CausalLM& lm, const io::Checkpoint& checkpoint);

}  // namespace ptq::quant
