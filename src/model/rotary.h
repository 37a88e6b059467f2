#pragma once
// Rotary position embeddings (RoPE), with the rope_scaling variants of transformers'
// modeling_rope_utils: default, linear, dynamic (NTK-aware), llama3 and yarn. Every family's
// RoPE goes through here; the LLaMA family's honours config.rope_scaling.
//
//   const RotaryEmbedding rope(config, config.head_dim);
//   q = rope.apply(q, offset);  // q [B, heads, T, head_dim] at positions offset..offset+T-1
//   k = rope.apply(k, offset);

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "ptq/model/config.h"

namespace ptq::model {

class RotaryEmbedding {
 public:
  // Plain RoPE with base `theta` on the first `rotary_dims` dims of each head.
  RotaryEmbedding(int64_t rotary_dims, double theta);
  // config.rope_theta and config.rope_scaling on the first `rotary_dims` dims of each head.
  RotaryEmbedding(const ModelConfig& config, int64_t rotary_dims);

  // Hugging Face rotate-half RoPE of x [B, H, T, hd] at positions offset..offset+T-1 on the
  // first rotary_dims of each head, cos and sin times attention_factor(); the remaining dims
  // pass through (GPT-NeoX rotary_pct, Phi-3 partial_rotary_factor).
  at::Tensor apply(const at::Tensor& x, int64_t offset) const;

  // The inverse frequencies [rotary_dims / 2] (fp64) of a forward whose positions end at
  // `length - 1`; only dynamic scaling depends on `length`.
  at::Tensor inv_freq(int64_t length) const;
  // The factor cos and sin are multiplied by (yarn's; 1 otherwise).
  double attention_factor() const { return _attention_factor; }

 private:
  int64_t _rotary_dims;
  double _theta;
  RopeScaling _scaling;
  int64_t _max_positions;  // config.max_position_embeddings
  double _attention_factor = 1.0;
};

// RotaryEmbedding(rotary_dims, theta).apply(x, offset): plain RoPE.
at::Tensor apply_rotary(const at::Tensor& x, int64_t rotary_dims, double theta, int64_t offset);

}  // namespace ptq::model
