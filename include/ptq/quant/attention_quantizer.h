#pragma once
// Fake-quantization of the attention operands of a WxAy model, as DuQuant and RUQuant run it
// (models/int_llama_layer.py: QuantMatMul(rotate=None) for QK^T and PV):
//
//   Q' = quant(Q H),  K' = quant(K H),  V' = quant(V),  out = softmax(Q' K'^T / sqrt(hd)) V'
//
// Q and K are taken after RoPE (what enters QK^T). H = blockdiag(H_b, ..., H_b) over each
// head's head_dim channels, H_b the Sylvester Hadamard matrix of order b scaled by 1/sqrt(b)
// (utils.py get_hadamard), so H is orthogonal and (QH)(KH)^T = QK^T in full precision. quant is
// the per-token ActivationQuantizer over each head's head_dim values (the authors reduce over
// the last dim of [B, heads, T, hd]). The attention probabilities are not quantized (their
// p_quant_params have 16 bits; they stay fp32 here).
//
//   lm.set_attention_quantizer(layer, attention_quantizer({4, 1.0}, lm.config().head_dim));

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "ptq/model/causal_lm.h"
#include "ptq/quant/activation_quantizer.h"

namespace ptq::quant {

// The authors apply one Hadamard of order --block_size (128) to each 128 values, which is one
// head for their models (head_dim 128) but mixes tokens or misses channels for other head_dims.
// ptq uses the largest power of two that divides head_dim, so the blocks tile each head: 128
// for head_dim 128, 64 for 64 and 192, 8 for stories260K's 8, 1 (the identity) for an odd one.
int64_t hadamard_block_size(int64_t head_dim);

// H_n / sqrt(n) for n a power of two: H_1 = [1], H_2m = [[H_m, H_m], [H_m, -H_m]]; fp32.
at::Tensor hadamard_matrix(int64_t order);

// The query, key and value maps above for heads of width head_dim, quantizing with `config`.
model::AttentionInputs attention_quantizer(const ActivationQuantizerConfig& config,
                                           int64_t head_dim,
                                           Rounding rounding = Rounding::Plain);

}  // namespace ptq::quant
