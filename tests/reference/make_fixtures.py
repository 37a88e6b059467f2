#!/usr/bin/python3
"""Tiny random checkpoints in the exact Hugging Face layouts, with reference logits.

    /usr/bin/python3 make_fixtures.py OUT_DIR

Writes OUT_DIR/<name>/ (config.json + model.safetensors, or shards + model.safetensors.index.json,
as `save_pretrained` lays them out) for every fixture below, and OUT_DIR/reference/<name>.safetensors
holding `input_ids` [2, 12] (I64) and the `logits` [2, 12, vocab] (F64) of an fp64 forward pass.

The forward passes are written here from each architecture's published equations and the Hugging
Face modeling code they must agree with (modeling_llama.py, modeling_mistral.py, modeling_qwen2.py,
modeling_qwen3.py, modeling_opt.py, modeling_gpt_neox.py, modeling_phi3.py, modeling_gemma2.py,
modeling_gemma3.py, and modeling_rope_utils.py for rope_scaling); they share nothing with the C++
implementation. Weights are drawn in fp64, rounded to the stored dtype, and the reference runs on
the stored values upcast to fp64, so the only difference left to the C++ side is its own fp32
arithmetic.

Needs Debian's python3-torch (1.13) and numpy; no safetensors or transformers package.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

BATCH, SEQ_LEN = 2, 12

SAFETENSORS_DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
}
TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


# ---------------------------------------------------------------------------------------------
# safetensors: [u64 LE header length][JSON header, space-padded to 8 bytes][data], tensors in
# name order with contiguous, non-overlapping data_offsets (what safetensors' serialize writes).


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)  # numpy has no bfloat16; the bits are what matter
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write_safetensors(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    chunks, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name]
        data = tensor_bytes(t)
        header[name] = {
            "dtype": SAFETENSORS_DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in chunks:
            f.write(data)


def write_checkpoint(dir_path, config, tensors, shards=1):
    """config.json + weights; with shards > 1, HF's model-0000i-of-0000n names and index."""
    os.makedirs(dir_path, exist_ok=True)
    with open(os.path.join(dir_path, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)  # PretrainedConfig.to_json_string
        f.write("\n")
    if shards == 1:
        write_safetensors(os.path.join(dir_path, "model.safetensors"), tensors)
        return
    names = sorted(tensors)
    per_shard = math.ceil(len(names) / shards)
    weight_map, total = {}, 0
    for i in range(shards):
        file = "model-%05d-of-%05d.safetensors" % (i + 1, shards)
        part = {n: tensors[n] for n in names[i * per_shard:(i + 1) * per_shard]}
        write_safetensors(os.path.join(dir_path, file), part)
        for n, t in part.items():
            weight_map[n] = file
            total += t.numel() * t.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(dir_path, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")


# ---------------------------------------------------------------------------------------------
# Random weights: drawn in fp64, stored in the checkpoint dtype; the reference sees the stored
# values upcast to fp64.


class Weights:
    def __init__(self, seed, dtype):
        self.rng = np.random.RandomState(seed)
        self.dtype = dtype
        self.stored = {}

    def add(self, name, shape, scale, mean=0.0):
        values = mean + scale * self.rng.standard_normal(shape)
        self.stored[name] = torch.from_numpy(values).to(self.dtype)

    def linear(self, name, out_features, in_features, bias):
        self.add(name + ".weight", (out_features, in_features), 1.0 / math.sqrt(in_features))
        if bias:
            self.add(name + ".bias", (out_features,), 0.1)

    def norm(self, name, dim, bias):
        self.add(name + ".weight", (dim,), 0.1, mean=1.0)
        if bias:
            self.add(name + ".bias", (dim,), 0.1)

    def fp64(self):
        return {n: t.double() for n, t in self.stored.items()}


# ---------------------------------------------------------------------------------------------
# Shared equations (fp64).


def linear(x, w, name):
    y = x @ w[name + ".weight"].T
    if name + ".bias" in w:
        y = y + w[name + ".bias"]
    return y


def rms_norm(x, weight, eps):
    # LlamaRMSNorm: x / sqrt(mean(x^2) + eps) * weight
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * weight


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)  # biased variance, as nn.LayerNorm
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))  # HF "gelu" is the exact erf form


def gelu_tanh(x):
    # HF "gelu_pytorch_tanh": GELU's tanh approximation
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


ACTIVATIONS = {
    "silu": lambda x: x / (1.0 + torch.exp(-x)),
    "relu": lambda x: torch.clamp(x, min=0.0),
    "gelu": gelu,
    "gelu_pytorch_tanh": gelu_tanh,
}


def default_inv_freq(theta, rot_dims):
    return 1.0 / theta ** (torch.arange(0, rot_dims, 2, dtype=torch.float64) / rot_dims)


def rotary(x, positions, rot_dims, theta, inv_freq=None, attention_factor=1.0):
    """HF rotate-half RoPE on the first rot_dims of each head: x [B, H, T, hd].

    inv_freq_i = theta^(-2i/rot_dims) unless given, angle = pos * inv_freq, pairs
    (i, i + rot_dims/2); cos and sin times attention_factor (modeling_rope_utils' scaling).
    """
    if inv_freq is None:
        inv_freq = default_inv_freq(theta, rot_dims)
    angles = positions.double()[:, None] * inv_freq[None, :]
    cos = torch.cat([angles.cos(), angles.cos()], -1) * attention_factor
    sin = torch.cat([angles.sin(), angles.sin()], -1) * attention_factor
    x_rot, x_pass = x[..., :rot_dims], x[..., rot_dims:]
    half = rot_dims // 2
    rotated = torch.cat([-x_rot[..., half:], x_rot[..., :half]], -1)
    return torch.cat([x_rot * cos + rotated * sin, x_pass], -1)


def rope_parameters(cfg, dim, seq_len):
    """(inv_freq, attention_factor) of cfg's rope_scaling, as modeling_rope_utils computes them
    (_compute_*_parameters), for a forward whose positions are 0..seq_len-1."""
    theta = cfg["rope_theta"]
    scaling = cfg.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "default":
        return default_inv_freq(theta, dim), 1.0
    factor = scaling["factor"]
    if kind == "linear":
        return default_inv_freq(theta, dim) / factor, 1.0
    if kind == "dynamic":
        # dynamic_rope_update: the frequencies are recomputed for seq_len = max position + 1
        # once it exceeds max_position_embeddings.
        max_pos = cfg["max_position_embeddings"]
        seq_len = max(seq_len, max_pos)
        base = theta * ((factor * seq_len / max_pos) - (factor - 1)) ** (dim / (dim - 2))
        return default_inv_freq(base, dim), 1.0
    if kind == "llama3":
        inv_freq = default_inv_freq(theta, dim)
        old_context = scaling["original_max_position_embeddings"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        low_wavelen, high_wavelen = old_context / low, old_context / high
        wavelen = 2 * math.pi / inv_freq
        out = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
        smooth = (old_context / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        return torch.where(medium, smoothed, out), 1.0
    if kind == "yarn":
        original = scaling.get("original_max_position_embeddings") or cfg["max_position_embeddings"]

        def mscale(scale, m=1.0):
            return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

        attention_factor = scaling.get("attention_factor")
        if attention_factor is None:
            if scaling.get("mscale") and scaling.get("mscale_all_dim"):
                attention_factor = mscale(factor, scaling["mscale"]) / mscale(factor, scaling["mscale_all_dim"])
            else:
                attention_factor = mscale(factor)
        beta_fast = scaling.get("beta_fast") or 32
        beta_slow = scaling.get("beta_slow") or 1

        def correction_dim(rotations):
            return dim * math.log(original / (rotations * 2 * math.pi)) / (2 * math.log(theta))

        low, high = correction_dim(beta_fast), correction_dim(beta_slow)
        if scaling.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float64) - low) / (high - low), 0, 1)
        extrapolation = default_inv_freq(theta, dim)
        extrapolation_weight = 1 - ramp
        inv_freq = extrapolation / factor * (1 - extrapolation_weight) + extrapolation * extrapolation_weight
        return inv_freq, attention_factor
    raise ValueError("rope type " + kind)


def attention(q, k, v, sliding_window=None, scale=None, softcap=None):
    """softmax(q k^T / sqrt(hd) + causal mask) v per head; q [B, Hq, T, hd], k, v [B, Hkv, T, hd].

    Query head h reads kv head h // (Hq / Hkv) (HF repeat_kv). With a sliding window W, query i
    sees keys j with i - W < j <= i (modeling_mistral's sliding mask). `scale` replaces
    1/sqrt(hd); with `softcap` the scores become softcap * tanh(scores / softcap) before the mask
    (Gemma 2's eager_attention_forward).
    """
    heads, kv_heads, seq_len, head_dim = q.shape[1], k.shape[1], q.shape[2], q.shape[3]
    group = heads // kv_heads
    i = torch.arange(seq_len)[:, None]
    j = torch.arange(seq_len)[None, :]
    allowed = j <= i
    if sliding_window is not None:
        allowed = allowed & (i - j < sliding_window)
    outputs = []
    for h in range(heads):
        scores = q[:, h] @ k[:, h // group].transpose(-1, -2)
        scores = scores / math.sqrt(head_dim) if scale is None else scores * scale
        if softcap is not None:
            scores = softcap * torch.tanh(scores / softcap)
        scores = scores.masked_fill(~allowed, float("-inf"))
        outputs.append(torch.softmax(scores, -1) @ v[:, h // group])
    return torch.stack(outputs, 1)  # [B, Hq, T, hd]


def split_heads(x, heads):
    b, t, _ = x.shape
    return x.view(b, t, heads, -1).transpose(1, 2)


def merge_heads(x):
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


# ---------------------------------------------------------------------------------------------
# LLaMA family: Llama (rope_scaling), Mistral (sliding window), Qwen2 (q/k/v bias, sliding
# window from max_window_layers), Qwen3 (q_norm/k_norm: modeling_qwen3's Qwen3RMSNorm over
# head_dim of each head of q and k, before RoPE; window from layer_types).


def llama_weights(cfg, seed, dtype):
    d, layers = cfg["hidden_size"], cfg["num_hidden_layers"]
    hd = cfg.get("head_dim") or d // cfg["num_attention_heads"]
    q_out, kv_out = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    o_bias = cfg.get("attention_bias", False)
    w = Weights(seed, dtype)
    w.add("model.embed_tokens.weight", (cfg["vocab_size"], d), 1.0)
    for i in range(layers):
        p = "model.layers.%d." % i
        w.norm(p + "input_layernorm", d, bias=False)
        w.linear(p + "self_attn.q_proj", q_out, d, qkv_bias)
        w.linear(p + "self_attn.k_proj", kv_out, d, qkv_bias)
        w.linear(p + "self_attn.v_proj", kv_out, d, qkv_bias)
        w.linear(p + "self_attn.o_proj", d, q_out, o_bias)
        if cfg["model_type"] == "qwen3":
            w.norm(p + "self_attn.q_norm", hd, bias=False)
            w.norm(p + "self_attn.k_norm", hd, bias=False)
        w.norm(p + "post_attention_layernorm", d, bias=False)
        w.linear(p + "mlp.gate_proj", cfg["intermediate_size"], d, False)
        w.linear(p + "mlp.up_proj", cfg["intermediate_size"], d, False)
        w.linear(p + "mlp.down_proj", d, cfg["intermediate_size"], False)
    w.norm("model.norm", d, bias=False)
    if not cfg["tie_word_embeddings"]:
        w.linear("lm_head", cfg["vocab_size"], d, False)
    return w


def layer_window(cfg, i):
    """The sliding window of layer i: Mistral's on every layer; Qwen2/Qwen3's, with
    use_sliding_window, on the layers layer_types marks "sliding_attention", which
    Qwen2Config/Qwen3Config default to those with index >= max_window_layers."""
    if cfg["model_type"] == "mistral":
        return cfg.get("sliding_window")
    if cfg["model_type"] in ("qwen2", "qwen3") and cfg.get("use_sliding_window"):
        types = cfg.get("layer_types") or [
            "sliding_attention" if j >= cfg["max_window_layers"] else "full_attention"
            for j in range(cfg["num_hidden_layers"])]
        return cfg["sliding_window"] if types[i] == "sliding_attention" else None
    return None


def llama_forward(cfg, w, ids):
    heads, kv_heads = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // heads
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    positions = torch.arange(ids.shape[1])
    inv_freq, attention_factor = rope_parameters(cfg, hd, ids.shape[1])

    def rope(x):
        return rotary(x, positions, hd, theta, inv_freq, attention_factor)

    x = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = split_heads(linear(h, w, p + "self_attn.q_proj"), heads)
        k = split_heads(linear(h, w, p + "self_attn.k_proj"), kv_heads)
        if cfg["model_type"] == "qwen3":
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q, k = rope(q), rope(k)
        v = split_heads(linear(h, w, p + "self_attn.v_proj"), kv_heads)
        attn = attention(q, k, v, layer_window(cfg, i))
        x = x + linear(merge_heads(attn), w, p + "self_attn.o_proj")
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        act = ACTIVATIONS[cfg["hidden_act"]]
        mlp = act(linear(h, w, p + "mlp.gate_proj")) * linear(h, w, p + "mlp.up_proj")
        x = x + linear(mlp, w, p + "mlp.down_proj")
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight" if cfg["tie_word_embeddings"] else "lm_head.weight"]
    return x @ head.T


# ---------------------------------------------------------------------------------------------
# OPT (modeling_opt.py).


def opt_weights(cfg, seed, dtype):
    d, proj = cfg["hidden_size"], cfg["word_embed_proj_dim"]
    w = Weights(seed, dtype)
    w.add("model.decoder.embed_tokens.weight", (cfg["vocab_size"], proj), 1.0)
    # OPTLearnedPositionalEmbedding has max_position_embeddings + 2 rows (offset 2, a fairseq
    # leftover from its padding index).
    w.add("model.decoder.embed_positions.weight", (cfg["max_position_embeddings"] + 2, d), 0.5)
    if proj != d:
        w.linear("model.decoder.project_in", d, proj, False)
        w.linear("model.decoder.project_out", proj, d, False)
    for i in range(cfg["num_hidden_layers"]):
        p = "model.decoder.layers.%d." % i
        for name in ("k_proj", "v_proj", "q_proj", "out_proj"):
            w.linear(p + "self_attn." + name, d, d, True)
        w.norm(p + "self_attn_layer_norm", d, bias=True)
        w.linear(p + "fc1", cfg["ffn_dim"], d, True)
        w.linear(p + "fc2", d, cfg["ffn_dim"], True)
        w.norm(p + "final_layer_norm", d, bias=True)
    if cfg["do_layer_norm_before"]:
        w.norm("model.decoder.final_layer_norm", d, bias=True)
    return w


def opt_forward(cfg, w, ids):
    heads, eps = cfg["num_attention_heads"], 1e-5  # nn.LayerNorm's default eps
    pre_ln = cfg["do_layer_norm_before"]
    act = ACTIVATIONS[cfg["activation_function"]]

    def norm(x, name):
        return layer_norm(x, w[name + ".weight"], w[name + ".bias"], eps)

    x = w["model.decoder.embed_tokens.weight"][ids]
    if "model.decoder.project_in.weight" in w:
        x = linear(x, w, "model.decoder.project_in")
    # Without padding, HF's positions are cumsum(mask) - 1 = 0..T-1, looked up at +2.
    x = x + w["model.decoder.embed_positions.weight"][torch.arange(ids.shape[1]) + 2]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.decoder.layers.%d." % i
        h = norm(x, p + "self_attn_layer_norm") if pre_ln else x
        q = split_heads(linear(h, w, p + "self_attn.q_proj"), heads)
        k = split_heads(linear(h, w, p + "self_attn.k_proj"), heads)
        v = split_heads(linear(h, w, p + "self_attn.v_proj"), heads)
        x = x + linear(merge_heads(attention(q, k, v)), w, p + "self_attn.out_proj")
        if not pre_ln:
            x = norm(x, p + "self_attn_layer_norm")
        h = norm(x, p + "final_layer_norm") if pre_ln else x
        x = x + linear(act(linear(h, w, p + "fc1")), w, p + "fc2")
        if not pre_ln:
            x = norm(x, p + "final_layer_norm")
    if pre_ln:
        x = norm(x, "model.decoder.final_layer_norm")
    if "model.decoder.project_out.weight" in w:
        x = linear(x, w, "model.decoder.project_out")
    return x @ w["model.decoder.embed_tokens.weight"].T  # lm_head tied to embed_tokens


# ---------------------------------------------------------------------------------------------
# GPT-NeoX (modeling_gpt_neox.py).


def neox_weights(cfg, seed, dtype, extra_buffers=False):
    d, ff = cfg["hidden_size"], cfg["intermediate_size"]
    w = Weights(seed, dtype)
    w.add("gpt_neox.embed_in.weight", (cfg["vocab_size"], d), 1.0)
    for i in range(cfg["num_hidden_layers"]):
        p = "gpt_neox.layers.%d." % i
        w.norm(p + "input_layernorm", d, bias=True)
        w.norm(p + "post_attention_layernorm", d, bias=True)
        w.linear(p + "attention.query_key_value", 3 * d, d, True)
        w.linear(p + "attention.dense", d, d, True)
        w.linear(p + "mlp.dense_h_to_4h", ff, d, True)
        w.linear(p + "mlp.dense_4h_to_h", d, ff, True)
        if extra_buffers:
            # Older Pythia exports also saved this non-persistent buffer; loaders ignore it.
            w.stored[p + "attention.rotary_emb.inv_freq"] = torch.ones(4, dtype=torch.float32)
    w.norm("gpt_neox.final_layer_norm", d, bias=True)
    w.linear("embed_out", cfg["vocab_size"], d, False)
    return w


def neox_forward(cfg, w, ids):
    heads, eps = cfg["num_attention_heads"], cfg["layer_norm_eps"]
    hd = cfg["hidden_size"] // heads
    rot_dims = int(hd * cfg["rotary_pct"])
    act = ACTIVATIONS[cfg["hidden_act"]]
    positions = torch.arange(ids.shape[1])
    b, t = ids.shape

    def norm(x, name):
        return layer_norm(x, w[name + ".weight"], w[name + ".bias"], eps)

    def attn(h, p):
        # The fused projection's rows are per head [q | k | v] (HF views it [B, T, H, 3*hd]).
        qkv = linear(h, w, p + "attention.query_key_value").view(b, t, heads, 3, hd)
        q, k, v = (qkv[:, :, :, j].transpose(1, 2) for j in range(3))
        q = rotary(q, positions, rot_dims, cfg["rotary_emb_base"])
        k = rotary(k, positions, rot_dims, cfg["rotary_emb_base"])
        return linear(merge_heads(attention(q, k, v)), w, p + "attention.dense")

    def mlp(h, p):
        return linear(act(linear(h, w, p + "mlp.dense_h_to_4h")), w, p + "mlp.dense_4h_to_h")

    x = w["gpt_neox.embed_in.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = "gpt_neox.layers.%d." % i
        a = attn(norm(x, p + "input_layernorm"), p)
        if cfg["use_parallel_residual"]:
            # x + attn(ln1(x)) + mlp(ln2(x))
            x = x + a + mlp(norm(x, p + "post_attention_layernorm"), p)
        else:
            x = x + a
            x = x + mlp(norm(x, p + "post_attention_layernorm"), p)
    x = norm(x, "gpt_neox.final_layer_norm")
    return x @ w["embed_out.weight"].T


# ---------------------------------------------------------------------------------------------
# Phi-3 (modeling_phi3.py): LLaMA's layer with q/k/v fused in qkv_proj, whose output is sliced
# [q | k | v] (num_heads * head_dim, then num_key_value_heads * head_dim twice), and gate/up fused
# in gate_up_proj, whose output is chunked in two: gate, up; mlp = down(up * act(gate)). RoPE on
# the first partial_rotary_factor * head_dim dims; with config.sliding_window set, the sliding
# window causal mask (create_sliding_window_causal_mask).


def phi3_sizes(cfg):
    hd = cfg["hidden_size"] // cfg["num_attention_heads"]
    return hd, cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd


def phi3_weights(cfg, seed, dtype):
    d, ff = cfg["hidden_size"], cfg["intermediate_size"]
    _, q_out, kv_out = phi3_sizes(cfg)
    w = Weights(seed, dtype)
    w.add("model.embed_tokens.weight", (cfg["vocab_size"], d), 1.0)
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        w.norm(p + "input_layernorm", d, bias=False)
        w.linear(p + "self_attn.qkv_proj", q_out + 2 * kv_out, d, False)
        w.linear(p + "self_attn.o_proj", d, q_out, False)
        w.norm(p + "post_attention_layernorm", d, bias=False)
        w.linear(p + "mlp.gate_up_proj", 2 * ff, d, False)
        w.linear(p + "mlp.down_proj", d, ff, False)
    w.norm("model.norm", d, bias=False)
    w.linear("lm_head", cfg["vocab_size"], d, False)
    return w


def phi3_forward(cfg, w, ids):
    heads, kv_heads = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, q_out, kv_out = phi3_sizes(cfg)
    rot_dims = int(hd * cfg["partial_rotary_factor"])
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    act = ACTIVATIONS[cfg["hidden_act"]]
    positions = torch.arange(ids.shape[1])
    x = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        qkv = linear(rms_norm(x, w[p + "input_layernorm.weight"], eps), w, p + "self_attn.qkv_proj")
        q = rotary(split_heads(qkv[..., :q_out], heads), positions, rot_dims, theta)
        k = rotary(split_heads(qkv[..., q_out:q_out + kv_out], kv_heads), positions, rot_dims, theta)
        v = split_heads(qkv[..., q_out + kv_out:], kv_heads)
        attn = attention(q, k, v, cfg["sliding_window"])
        x = x + linear(merge_heads(attn), w, p + "self_attn.o_proj")
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate, up = linear(h, w, p + "mlp.gate_up_proj").chunk(2, dim=-1)
        x = x + linear(up * act(gate), w, p + "mlp.down_proj")
    x = rms_norm(x, w["model.norm.weight"], eps)
    return x @ w["lm_head.weight"].T


# ---------------------------------------------------------------------------------------------
# Gemma 2 and Gemma 3 text (modeling_gemma2.py, modeling_gemma3.py). RMSNorm scales by (1 + w)
# (the stored weight is an offset from one), computed in fp32 or wider; the embeddings are
# multiplied by sqrt(hidden_size); each layer is
#   h = x + post_attention_layernorm(attn(input_layernorm(x)))
#   y = h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h)))
# with mlp = down(gelu_tanh(gate) * up). Scores are q k^T * query_pre_attn_scalar^-0.5, capped
# by attn_logit_softcapping if set; "sliding_attention" layers see the last sliding_window
# positions. Gemma 2's layer_types default: even layers slide. Gemma 3's: layer i slides unless
# (i + 1) % sliding_window_pattern == 0; it RMS-norms each head of q and k (q_norm, k_norm) before
# RoPE, whose base is rope_local_base_freq on sliding layers and rope_theta on the others. The
# logits are capped by final_logit_softcapping if set.


def gemma_weights(cfg, seed, dtype):
    d, ff, hd = cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"]
    q_out, kv_out = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    w = Weights(seed, dtype)

    def gemma_norm(name, dim):
        w.add(name + ".weight", (dim,), 0.3)  # around 0: a factor around one

    w.add("model.embed_tokens.weight", (cfg["vocab_size"], d), 1.0)
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        gemma_norm(p + "input_layernorm", d)
        w.linear(p + "self_attn.q_proj", q_out, d, False)
        w.linear(p + "self_attn.k_proj", kv_out, d, False)
        w.linear(p + "self_attn.v_proj", kv_out, d, False)
        w.linear(p + "self_attn.o_proj", d, q_out, False)
        if cfg["model_type"] == "gemma3_text":
            gemma_norm(p + "self_attn.q_norm", hd)
            gemma_norm(p + "self_attn.k_norm", hd)
        gemma_norm(p + "post_attention_layernorm", d)
        gemma_norm(p + "pre_feedforward_layernorm", d)
        w.linear(p + "mlp.gate_proj", ff, d, False)
        w.linear(p + "mlp.up_proj", ff, d, False)
        w.linear(p + "mlp.down_proj", d, ff, False)
        gemma_norm(p + "post_feedforward_layernorm", d)
    gemma_norm("model.norm", d)
    if not cfg["tie_word_embeddings"]:
        w.linear("lm_head", cfg["vocab_size"], d, False)
    return w


def gemma_sliding(cfg, i):
    if cfg.get("layer_types") is not None:
        return cfg["layer_types"][i] == "sliding_attention"
    if cfg["model_type"] == "gemma2":
        return i % 2 == 0
    return (i + 1) % cfg["sliding_window_pattern"] != 0


def gemma_forward(cfg, w, ids):
    heads, kv_heads, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    gemma3 = cfg["model_type"] == "gemma3_text"
    act = ACTIVATIONS[cfg["hidden_activation"]]
    positions = torch.arange(ids.shape[1])

    def norm(x, name):
        return rms_norm(x, 1.0 + w[name + ".weight"], eps)

    def cap(x, softcap):
        return x if softcap is None else softcap * torch.tanh(x / softcap)

    x = w["model.embed_tokens.weight"][ids] * math.sqrt(cfg["hidden_size"])
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        sliding = gemma_sliding(cfg, i)
        h = norm(x, p + "input_layernorm")
        q = split_heads(linear(h, w, p + "self_attn.q_proj"), heads)
        k = split_heads(linear(h, w, p + "self_attn.k_proj"), kv_heads)
        v = split_heads(linear(h, w, p + "self_attn.v_proj"), kv_heads)
        if gemma3:
            q, k = norm(q, p + "self_attn.q_norm"), norm(k, p + "self_attn.k_norm")
        if gemma3 and sliding:  # Gemma3's rotary_emb_local: plain RoPE, the local base
            inv_freq, factor = default_inv_freq(cfg["rope_local_base_freq"], hd), 1.0
        else:  # rotary_emb: rope_theta and rope_scaling
            inv_freq, factor = rope_parameters(cfg, hd, ids.shape[1])
        q = rotary(q, positions, hd, None, inv_freq, factor)
        k = rotary(k, positions, hd, None, inv_freq, factor)
        attn = attention(q, k, v, cfg["sliding_window"] if sliding else None,
                         scale=cfg["query_pre_attn_scalar"] ** -0.5,
                         softcap=cfg.get("attn_logit_softcapping"))
        attn = linear(merge_heads(attn), w, p + "self_attn.o_proj")
        x = x + norm(attn, p + "post_attention_layernorm")
        h = norm(x, p + "pre_feedforward_layernorm")
        mlp = act(linear(h, w, p + "mlp.gate_proj")) * linear(h, w, p + "mlp.up_proj")
        x = x + norm(linear(mlp, w, p + "mlp.down_proj"), p + "post_feedforward_layernorm")
    x = norm(x, "model.norm")
    head = w["model.embed_tokens.weight" if cfg["tie_word_embeddings"] else "lm_head.weight"]
    return cap(x @ head.T, cfg.get("final_logit_softcapping"))


# ---------------------------------------------------------------------------------------------
# Fixture configs: the keys each HF config class writes (transformers 4.4x), tiny sizes.


def llama_config(**overrides):
    cfg = {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 2, "head_dim": 8, "hidden_act": "silu",
        "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 96,
        "max_position_embeddings": 128, "mlp_bias": False, "model_type": "llama",
        "num_attention_heads": 8, "num_hidden_layers": 2, "num_key_value_heads": 2,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 10000.0,
        "tie_word_embeddings": False, "torch_dtype": "float32",
        "transformers_version": "4.46.0", "use_cache": True, "vocab_size": 256,
    }
    cfg.update(overrides)
    return cfg


def mistral_config():
    # head_dim * heads != hidden_size (as Mistral-Nemo), and a sliding window shorter than the
    # sequence so the window mask is exercised.
    return {
        "architectures": ["MistralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1,
        "eos_token_id": 2, "head_dim": 24, "hidden_act": "silu", "hidden_size": 64,
        "initializer_range": 0.02, "intermediate_size": 128, "max_position_embeddings": 256,
        "model_type": "mistral", "num_attention_heads": 4, "num_hidden_layers": 2,
        "num_key_value_heads": 2, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
        "sliding_window": 8, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.46.0", "use_cache": True, "vocab_size": 192,
    }


def qwen2_config(**overrides):
    cfg = {
        "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 0,
        "eos_token_id": 1, "hidden_act": "silu", "hidden_size": 48, "initializer_range": 0.02,
        "intermediate_size": 112, "max_position_embeddings": 512, "max_window_layers": 2,
        "model_type": "qwen2", "num_attention_heads": 6, "num_hidden_layers": 2,
        "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
        "sliding_window": 512, "tie_word_embeddings": True, "torch_dtype": "float16",
        "transformers_version": "4.46.0", "use_cache": True, "use_sliding_window": False,
        "vocab_size": 200,
    }
    cfg.update(overrides)
    return cfg


def qwen3_config():
    # As Qwen3-0.6B: head_dim (16) * heads != hidden_size, tied embeddings, no bias. The window
    # is on, over layer 1 only as layer_types says (max_window_layers alone would window none).
    return {
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": 0, "eos_token_id": 1, "head_dim": 16,
        "hidden_act": "silu", "hidden_size": 48, "initializer_range": 0.02,
        "intermediate_size": 96, "layer_types": ["full_attention", "sliding_attention"],
        "max_position_embeddings": 256, "max_window_layers": 2, "model_type": "qwen3",
        "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000.0,
        "sliding_window": 5, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers_version": "4.56.0", "use_cache": True, "use_sliding_window": True,
        "vocab_size": 208,
    }


def opt_config(**overrides):
    cfg = {
        "_remove_final_layer_norm": False, "activation_dropout": 0.0,
        "activation_function": "relu", "architectures": ["OPTForCausalLM"],
        "attention_dropout": 0.0, "bos_token_id": 2, "do_layer_norm_before": True,
        "dropout": 0.1, "enable_bias": True, "eos_token_id": 2, "ffn_dim": 128,
        "hidden_size": 32, "init_std": 0.02, "layer_norm_elementwise_affine": True,
        "layerdrop": 0.0, "max_position_embeddings": 64, "model_type": "opt",
        "num_attention_heads": 4, "num_hidden_layers": 2, "pad_token_id": 1, "prefix": "</s>",
        "torch_dtype": "float16", "transformers_version": "4.46.0", "use_cache": True,
        "vocab_size": 272, "word_embed_proj_dim": 32,
    }
    cfg.update(overrides)
    return cfg


def neox_config(**overrides):
    cfg = {
        "architectures": ["GPTNeoXForCausalLM"], "attention_bias": True,
        "attention_dropout": 0.0, "bos_token_id": 0, "classifier_dropout": 0.1,
        "eos_token_id": 0, "hidden_act": "gelu", "hidden_dropout": 0.0, "hidden_size": 64,
        "initializer_range": 0.02, "intermediate_size": 256, "layer_norm_eps": 1e-05,
        "max_position_embeddings": 128, "model_type": "gpt_neox", "num_attention_heads": 4,
        "num_hidden_layers": 2, "rope_scaling": None, "rotary_emb_base": 10000,
        "rotary_pct": 0.25, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.46.0", "use_cache": True, "use_parallel_residual": True,
        "vocab_size": 300,
    }
    cfg.update(overrides)
    return cfg


def phi3_config():
    # Grouped-query attention (as Phi-3-medium), a sliding window shorter than the sequence (as
    # Phi-3-mini-4k's 2047 of 4096 positions) and partial rotary (as Phi-4-mini's 0.75).
    return {
        "architectures": ["Phi3ForCausalLM"], "attention_dropout": 0.0,
        "bos_token_id": 1, "embd_pdrop": 0.0, "eos_token_id": 2, "hidden_act": "silu",
        "hidden_size": 64, "initializer_range": 0.02, "intermediate_size": 80,
        "max_position_embeddings": 128, "model_type": "phi3", "num_attention_heads": 8,
        "num_hidden_layers": 2, "num_key_value_heads": 2, "original_max_position_embeddings": 128,
        "pad_token_id": 0, "partial_rotary_factor": 0.75, "resid_pdrop": 0.0,
        "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 10000.0, "sliding_window": 7,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16", "transformers_version": "4.46.0",
        "use_cache": True, "vocab_size": 232,
    }


def gemma2_config():
    # head_dim * heads != hidden_size and query_pre_attn_scalar != head_dim (as Gemma-2-27B),
    # grouped-query attention, a window of 5 of the 12 positions on the even layers, and caps
    # that bite: attention scores (std about 1.2) reach 5 against a cap of 3, logits (std about
    # 9) reach 70 against a cap of 20.
    return {
        "architectures": ["Gemma2ForCausalLM"], "attention_bias": False,
        "attention_dropout": 0.0, "attn_logit_softcapping": 3.0, "bos_token_id": 2,
        "cache_implementation": "hybrid", "eos_token_id": 1, "final_logit_softcapping": 20.0,
        "head_dim": 24, "hidden_act": "gelu_pytorch_tanh",
        "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 64, "initializer_range": 0.02,
        "intermediate_size": 96, "max_position_embeddings": 128, "model_type": "gemma2",
        "num_attention_heads": 4, "num_hidden_layers": 4, "num_key_value_heads": 2,
        "pad_token_id": 0, "query_pre_attn_scalar": 20, "rms_norm_eps": 1e-06,
        "rope_theta": 10000.0, "sliding_window": 5, "tie_word_embeddings": True,
        "torch_dtype": "bfloat16", "transformers_version": "4.46.0", "use_cache": True,
        "vocab_size": 256,
    }


def gemma3_config():
    # Gemma3ForCausalLM as transformers 4.50 writes Gemma3TextConfig: multi-query attention (as
    # gemma-3-1b), sqrt(48) not a round number, layers 0, 1 and 3 sliding (pattern 3) with a
    # window of 4 and base 10000, layer 2 global with base 1e6, no soft-capping.
    return {
        "architectures": ["Gemma3ForCausalLM"], "attention_bias": False,
        "attention_dropout": 0.0, "attn_logit_softcapping": None, "bos_token_id": 2,
        "cache_implementation": "hybrid", "eos_token_id": 1, "final_logit_softcapping": None,
        "head_dim": 32, "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 48,
        "initializer_range": 0.02, "intermediate_size": 80, "max_position_embeddings": 128,
        "model_type": "gemma3_text", "num_attention_heads": 4, "num_hidden_layers": 4,
        "num_key_value_heads": 1, "pad_token_id": 0, "query_pre_attn_scalar": 24,
        "rms_norm_eps": 1e-06, "rope_local_base_freq": 10000.0, "rope_scaling": None,
        "rope_theta": 1000000.0, "sliding_window": 4, "sliding_window_pattern": 3,
        "tie_word_embeddings": True, "torch_dtype": "float16", "transformers_version": "4.50.0",
        "use_cache": True, "vocab_size": 224,
    }


# name -> (config, weights(cfg, seed, dtype), forward, shards)
FIXTURES = {
    "llama": (llama_config(), llama_weights, llama_forward, 1),
    "mistral": (mistral_config(), llama_weights, llama_forward, 1),
    "qwen2": (qwen2_config(), llama_weights, llama_forward, 1),
    "opt": (opt_config(), opt_weights, opt_forward, 1),
    "opt_project": (opt_config(hidden_size=48, word_embed_proj_dim=32, num_attention_heads=3,
                               ffn_dim=96), opt_weights, opt_forward, 1),
    # opt-350m: post-LN, no final layer norm, and a 512 -> 1024 projection.
    "opt_post_ln": (opt_config(hidden_size=48, word_embed_proj_dim=32, do_layer_norm_before=False,
                               torch_dtype="float32"), opt_weights, opt_forward, 1),
    "gpt_neox": (neox_config(), lambda c, s, d: neox_weights(c, s, d, extra_buffers=True),
                 neox_forward, 1),
    "gpt_neox_sequential": (neox_config(use_parallel_residual=False, rotary_pct=0.5,
                                        torch_dtype="float16", vocab_size=160),
                            neox_weights, neox_forward, 1),
    "llama_sharded": (llama_config(hidden_size=48, head_dim=12, num_attention_heads=4,
                                   num_key_value_heads=4, num_hidden_layers=3,
                                   rope_theta=500000.0, torch_dtype="bfloat16"),
                      llama_weights, llama_forward, 3),
    "phi3": (phi3_config(), phi3_weights, phi3_forward, 1),
    # As Llama 3.2 1B: llama3 rope_scaling (whose three frequency bands the 16-dim heads span:
    # wavelengths 6, 32 and >= 167 against 64 / 4 and 64 / 1), head_dim * heads != hidden_size,
    # tied embeddings, a list of eos ids.
    "llama3": (llama_config(hidden_size=48, head_dim=16, num_attention_heads=4,
                            max_position_embeddings=512, rope_theta=500000.0,
                            rope_scaling={"factor": 8.0, "high_freq_factor": 4.0,
                                          "low_freq_factor": 1.0,
                                          "original_max_position_embeddings": 64,
                                          "rope_type": "llama3"},
                            tie_word_embeddings=True, eos_token_id=[2, 3],
                            torch_dtype="bfloat16"),
               llama_weights, llama_forward, 1),
    # The legacy "type" key, as configs written before transformers 4.43.
    "llama_linear": (llama_config(rope_scaling={"factor": 2.0, "type": "linear"}),
                     llama_weights, llama_forward, 1),
    # 12 positions past max_position_embeddings 8: the base grows with the length.
    "llama_dynamic": (llama_config(max_position_embeddings=8,
                                   rope_scaling={"factor": 3.0, "rope_type": "dynamic"}),
                      llama_weights, llama_forward, 1),
    # As Qwen2.5's YaRN: factor 4 over original 256 (= max_position_embeddings / original, so
    # transformers 4.5x, which derives the factor so, agrees); the ramp spans dims 0..4 of 8.
    "llama_yarn": (llama_config(head_dim=16, num_attention_heads=4, num_key_value_heads=2,
                                max_position_embeddings=1024,
                                rope_scaling={"factor": 4.0,
                                              "original_max_position_embeddings": 256,
                                              "rope_type": "yarn"}),
                   llama_weights, llama_forward, 1),
    "qwen3": (qwen3_config(), llama_weights, llama_forward, 1),
    # use_sliding_window with max_window_layers 1: layer 1 sees 5 of the 12 positions.
    "qwen2_window": (qwen2_config(use_sliding_window=True, sliding_window=5, max_window_layers=1,
                                  num_hidden_layers=2, torch_dtype="float32"),
                     llama_weights, llama_forward, 1),
    "gemma2": (gemma2_config(), gemma_weights, gemma_forward, 1),
    "gemma3": (gemma3_config(), gemma_weights, gemma_forward, 1),
    # As gemma-3-4b and larger: linear rope_scaling, factor 8, on the global layer (2) only.
    "gemma3_scaled": (dict(gemma3_config(), rope_scaling={"factor": 8.0, "rope_type": "linear"}),
                      gemma_weights, gemma_forward, 1),
}

# Fixtures added after the first ones take the seeds after theirs, so that adding one leaves the
# others' weights and ids as they were.
ADDED_FIXTURES = ["phi3", "llama3", "llama_linear", "llama_dynamic", "llama_yarn", "qwen3",
                  "qwen2_window", "gemma2", "gemma3", "gemma3_scaled"]


def fixture_seed(name):
    if name in ADDED_FIXTURES:
        return len(FIXTURES) - len(ADDED_FIXTURES) + ADDED_FIXTURES.index(name)
    return sorted(n for n in FIXTURES if n not in ADDED_FIXTURES).index(name)


def main():
    out_dir = sys.argv[1]
    os.makedirs(os.path.join(out_dir, "reference"), exist_ok=True)
    for name, (cfg, make_weights, forward, shards) in sorted(FIXTURES.items()):
        seed = fixture_seed(name)
        weights = make_weights(cfg, 1000 + seed, TORCH_DTYPES[cfg["torch_dtype"]])
        write_checkpoint(os.path.join(out_dir, name), cfg, weights.stored, shards)
        rng = np.random.RandomState(seed)
        ids = torch.from_numpy(rng.randint(0, cfg["vocab_size"], size=(BATCH, SEQ_LEN)))
        with torch.no_grad():
            logits = forward(cfg, weights.fp64(), ids)
        write_safetensors(os.path.join(out_dir, "reference", name + ".safetensors"),
                          {"input_ids": ids.long(), "logits": logits.double()})
        print("%-20s logits %s max|logit| %.3f" % (name, list(logits.shape), logits.abs().max()))


if __name__ == "__main__":
    main()
