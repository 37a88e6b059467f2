#!/usr/bin/python3
"""Reads ptq's quantized checkpoints the way GPTQ loaders do, and checks ptq evaluates the same.

    /usr/bin/python3 gptq_loader_conventions.py PTQ_BINARY WORK_DIR

Writes a tiny LLaMA (every width a multiple of 32, one all-positive linear so that asymmetric
grids have zero points of 0), quantizes it with `ptq quantize` at every bit width ptq writes (2 to
8) in both checkpoint formats (v1 "gptq", v2 "gptq_v2"; RTN and act-order GPTQ, sym and asym),
and with per-linear settings (--linear-settings, and --target-bits's allocation, both stored as
GPTQModel's "dynamic"), decodes each output here and writes the decoded weights as a dense model, then asks
`ptq compare` for the difference to the quantized directory as ptq loads it: it must be 0 for
every tensor. A reader with the other zero-point convention must decode other weights in every
linear.

The decoding follows the loaders' documented conventions, not ptq's code (docs/format.md):
- the config: quant_method "gptq" for 2, 3, 4, 8 bits; 5, 6 and 7 bits must not say "gptq",
  which AutoGPTQ, Transformers and vLLM reject and GPTQModel reads as its planar layout;
- qweight [K * bits / 32, N] packs the codes along the input dimension, qzeros [G, N * bits / 32]
  along the output dimension, least significant bits first: for 2, 4, 8 bits 32 / bits values per
  int32 word (AutoGPTQ's `(qweight >> shifts) & mask`); for 3 bits (and ptq's 5, 6, 7) one
  continuous bit stream per 32 values, value j at stream bit bits * j;
- W[n, k] = scales[g, n] * (q[k, n] - zero[g, n]) with g = g_idx[k], where v1 ("gptq") stores
  zero - 1 in qzeros and readers add 1 back (AutoGPTQ, vLLM), and v2 ("gptq_v2", GPTQModel)
  stores the zero itself;
- "dynamic" (GPTQModel, vLLM): its rules in stored order, each key a regex tried with re.match
  on the module name; the first match decides: "-:" leaves the module unquantized, "+:" (or no
  prefix) overrides the top-level bits/group_size with the rule's.

Needs Debian's python3-torch and numpy.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import llama_config, llama_weights, write_checkpoint, write_safetensors  # noqa

LOADER_BITS = (2, 3, 4, 8)
NUMPY_DTYPES = {"F32": "<f4", "F16": "<f2", "I32": "<i4", "I64": "<i8"}
SEQ_LEN, ROWS = 16, 2

# (bits, checkpoint_format, extra ptq options): every width in both formats; act-order GPTQ
# (a permuted g_idx) and symmetric grids among them.
OTHER_SETTINGS = {
    (3, "gptq"): ["--method", "gptq", "--act-order"],
    (4, "gptq"): ["--method", "gptq", "--act-order", "--sym"],
    (4, "gptq_v2"): ["--method", "gptq", "--act-order"],
    (6, "gptq_v2"): ["--method", "rtn", "--sym"],
}
RUNS = [(bits, fmt, OTHER_SETTINGS.get((bits, fmt), ["--method", "rtn"]))
        for fmt in ("gptq", "gptq_v2") for bits in range(2, 9)]
# Per-linear settings over a 4-bit, group-32 top level; 6 bits among them makes it "ptq".
LINEAR_SETTINGS = {
    "model.layers.0.self_attn.q_proj": {"bits": 3, "group_size": 16},
    "model.layers.0.self_attn.v_proj": {"bits": 8, "group_size": -1},
    "model.layers.0.mlp.up_proj": {"bits": 2, "group_size": 64},
    "model.layers.0.mlp.down_proj": {"bits": 6, "group_size": 32},
}
SETTINGS_FILE = "{linear-settings}"  # replaced by the file's path
RUNS += [(4, fmt, ["--method", "gptq", "--linear-settings", SETTINGS_FILE])
         for fmt in ("gptq", "gptq_v2")]
# Settings chosen by a bit budget (--target-bits), written as the same "dynamic" rules.
TARGET_BITS = "3.5"
RUNS += [(4, fmt, ["--method", "gptq", "--target-bits", TARGET_BITS])
         for fmt in ("gptq", "gptq_v2")]


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype=NUMPY_DTYPES[entry["dtype"]])
        tensors[name] = torch.from_numpy(array.reshape(entry["shape"]).copy())
    return tensors


def unpack_words(packed, bits):
    """int32 [R * bits / 32, C] -> int64 [R, C], values packed along dim 0 LSB first."""
    words = packed.to(torch.int64) & 0xFFFFFFFF
    if 32 % bits == 0:
        # AutoGPTQ's unpacking: value j of a word at bits [bits * j, bits * (j + 1)).
        shifts = torch.arange(0, 32, bits, dtype=torch.int64)
        values = (words.unsqueeze(1) >> shifts.view(1, -1, 1)) & ((1 << bits) - 1)
        return values.reshape(-1, words.shape[1])
    # A continuous stream: the bits of every column, word after word, LSB first.
    stream = (words.unsqueeze(1) >> torch.arange(32).view(1, -1, 1)) & 1  # [W, 32, C]
    stream = stream.reshape(-1, words.shape[1])  # [W * 32, C]
    rows = stream.shape[0] // bits
    chunks = stream[:rows * bits].reshape(rows, bits, -1)
    weights = (1 << torch.arange(bits, dtype=torch.int64)).view(1, -1, 1)
    return (chunks * weights).sum(1)


def decode_linear(tensors, module, bits, zero_offset):
    """fp32 W [N, K] of a quantized linear as a loader computes it."""
    qweight, qzeros = tensors[module + ".qweight"], tensors[module + ".qzeros"]
    scales, g_idx = tensors[module + ".scales"], tensors[module + ".g_idx"].to(torch.int64)
    in_features, out_features = g_idx.numel(), scales.shape[1]
    q = unpack_words(qweight, bits)[:in_features]  # [K, N]
    zeros = unpack_words(qzeros.t(), bits).t()[:, :out_features] + zero_offset
    w = scales.float()[g_idx] * (q.float() - zeros.float()[g_idx])
    return w.t().contiguous(), zeros


def module_setting(qc, module):
    """(bits, group_size) of `module` per "dynamic", None if a "-:" rule excludes it."""
    for key, overrides in qc.get("dynamic", {}).items():  # json.load keeps the stored order
        if key.startswith("-:"):
            if re.match(key[2:], module):
                return None
        elif re.match(key[2:] if key.startswith("+:") else key, module):
            return (overrides.get("bits", qc["bits"]),
                    overrides.get("group_size", qc["group_size"]))
    return qc["bits"], qc["group_size"]


def decode_checkpoint(quantized, out_dir, zero_offset=None):
    """Writes the dense model a loader would build; returns {module: zero points}."""
    with open(os.path.join(quantized, "config.json")) as f:
        config = json.load(f)
    qc = config.pop("quantization_config")
    method = qc.get("quant_method", "gptq")
    all_bits = {qc["bits"]} | {o.get("bits", qc["bits"]) for o in qc.get("dynamic", {}).values()}
    # Loaders read "gptq" at their bit widths only; other widths must carry another label.
    assert (method == "gptq") == all_bits.issubset(LOADER_BITS), (quantized, method, all_bits)
    if zero_offset is None:
        zero_offset = {"gptq": 1, "gptq_v2": 0}[qc.get("checkpoint_format", "gptq")]
    tensors = read_safetensors(os.path.join(quantized, "model.safetensors"))
    dense, zeros = {}, {}
    for name, tensor in tensors.items():
        if name.endswith(".qweight"):
            module = name[:-len(".qweight")]
            bits, group_size = module_setting(qc, module)
            in_features = tensors[module + ".g_idx"].numel()
            groups = 1 if group_size == -1 else -(-in_features // group_size)
            assert tensors[module + ".scales"].shape[0] == groups, (quantized, module, group_size)
            dense[module + ".weight"], zeros[module] = decode_linear(tensors, module, bits,
                                                                     zero_offset)
        elif not name.endswith((".qzeros", ".scales", ".g_idx")):
            dense[name] = tensor
    os.makedirs(out_dir)
    write_checkpoint(out_dir, config, dense)
    return dense, zeros


def run(args):
    """Runs ptq quietly; its output is shown when it fails."""
    result = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        sys.exit("%s failed (exit %d):\n%s" % (" ".join(args), result.returncode, result.stdout))


def max_diff(ptq, a, b):
    report = a + ".diff.json"
    run([ptq, "-q", "compare", a, b, "--report", report])
    with open(report) as f:
        return json.load(f)["max_abs"]


def make_model(work):
    cfg = llama_config(hidden_size=64, head_dim=16, num_attention_heads=4, num_key_value_heads=2,
                       intermediate_size=96, num_hidden_layers=1, vocab_size=64,
                       attention_bias=True, max_position_embeddings=SEQ_LEN)
    weights = llama_weights(cfg, 7, torch.float32).stored
    # All-positive rows: asymmetric min-max grids get zero point 0 (v1 refits, v2 stores it).
    up = "model.layers.0.mlp.up_proj.weight"
    weights[up] = weights[up].abs()
    model = os.path.join(work, "model")
    write_checkpoint(model, cfg, weights)
    ids = np.random.RandomState(3).randint(0, cfg["vocab_size"], (ROWS, SEQ_LEN)).astype("<i4")
    calib = os.path.join(work, "calib.i32")
    ids.tofile(calib)
    return model, calib


def main():
    ptq, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    model, calib = make_model(work)
    settings = os.path.join(work, "linear-settings.json")
    with open(settings, "w") as f:
        json.dump(LINEAR_SETTINGS, f)
    failures = []
    for bits, fmt, extra in RUNS:
        mixed = SETTINGS_FILE in extra
        extra = [settings if o == SETTINGS_FILE else o for o in extra]
        tag = "w%d-%s-%s" % (bits, fmt, "-".join(o.strip("-") for o in extra if o != settings))
        out = os.path.join(work, tag)
        run([ptq, "-q", "quantize", "--model", model, "--wbits", str(bits), "--group-size", "32",
             "--checkpoint-format", fmt, "--calib", "tokens:" + calib, "--nsamples", str(ROWS),
             "--seqlen", str(SEQ_LEN), "--out", out, "--report", out + ".json"] + extra)
        right, zeros = decode_checkpoint(out, out + ".decoded")
        diff = max_diff(ptq, out + ".decoded", out)
        wrong_zero, _ = decode_checkpoint(out, out + ".wrong-zero",
                                          zero_offset={"gptq": 0, "gptq_v2": 1}[fmt])
        wrong = min((right[n] - wrong_zero[n]).abs().max().item() for n in right
                    if n.endswith("proj.weight"))
        line = "%-36s max |ptq - loader reader| %g, wrong zero convention min max-diff %g" % (
            tag, diff, wrong)
        with open(out + ".json") as f:
            refit = json.load(f)["checkpoint"]["refit_groups"]
        all_zeros = torch.cat([z.flatten() for z in zeros.values()])
        line += ", refit grids %d, min zero %d" % (refit, all_zeros.min().item())
        print(line)
        if diff != 0:
            failures.append(tag + ": ptq evaluates other weights than the loaders' reading")
        if mixed or TARGET_BITS in extra:
            with open(os.path.join(out, "config.json")) as f:
                dynamic = json.load(f)["quantization_config"].get("dynamic", {})
            if mixed and len(dynamic) != len(LINEAR_SETTINGS):
                failures.append(tag + ": expected one \"dynamic\" rule per linear setting")
            if not mixed and not dynamic:
                failures.append(tag + ": a 3.5-bit budget under 4-bit group-32 settings chose "
                                "no \"dynamic\" rule")
        if wrong == 0:
            failures.append(tag + ": the wrong zero convention reads the same weights")
        asym = "--sym" not in extra
        if fmt == "gptq" and asym and refit == 0:
            failures.append(tag + ": no v1 refit reported for all-positive groups")
        if fmt == "gptq_v2" and (refit != 0 or (asym and all_zeros.min().item() != 0)):
            failures.append(tag + ": v2 must store zero points of 0 without refit")
    for failure in failures:
        print("FAIL", failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
