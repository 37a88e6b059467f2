#!/usr/bin/python3
"""Checks `ptq export --merge-outliers` with a reader written from the GPTQ loaders' conventions.

    /usr/bin/python3 merged_outliers_check.py PTQ_BINARY SEPTQ_DIR EXPORT_DIR WORK_DIR

SEPTQ_DIR is a `ptq quantize --method septq` output and EXPORT_DIR its export. Decoding follows
gptq_loader_conventions.py (the loaders' v1/v2 conventions, not ptq's code) and, for the SEPTQ
side store, docs/format.md (fp16 `outlier_val` written at the flat indices `outlier_idx`, n * K
+ c). Checks, printing one line per directory and FAIL lines:
- the export holds no side tensors, and its quantization_config is the input's with
  meta.merged_outliers true (same checkpoint_format, bits, group size, ...);
- the decoded export is exactly what ptq evaluates for it (`ptq compare` max |diff| 0), and so
  is the decoded SEPTQ directory with its side store (validating this reader);
- the exported weights equal the SEPTQ weights everywhere except at kept positions, and at each
  kept position lie on that position's grid, scale * (q - zero) for q in 0..2^bits - 1, at the
  smallest distance to the kept value that any point of that grid has (computed here by trying
  every q, in float64).

Needs Debian's python3-torch and numpy.
"""
import json
import os
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gptq_loader_conventions import decode_checkpoint, decode_linear, max_diff, read_safetensors  # noqa
from make_fixtures import write_checkpoint  # noqa

SIDE = (".outlier_idx", ".outlier_val")


def quantization_config(directory):
    with open(os.path.join(directory, "config.json")) as f:
        return json.load(f)["quantization_config"]


def decode_septq(directory, out_dir):
    """The dense SEPTQ model: loader decoding plus the side store; {module: (w, zeros)} too."""
    with open(os.path.join(directory, "config.json")) as f:
        config = json.load(f)
    qc = config.pop("quantization_config")
    offset = {"gptq": 1, "gptq_v2": 0}[qc.get("checkpoint_format", "gptq")]
    tensors = read_safetensors(os.path.join(directory, "model.safetensors"))
    dense, grids = {}, {}
    for name, tensor in tensors.items():
        if name.endswith(".qweight"):
            module = name[:-len(".qweight")]
            w, zeros = decode_linear(tensors, module, qc["bits"], offset)
            grids[module] = zeros
            if module + ".outlier_idx" in tensors:
                idx = tensors[module + ".outlier_idx"].to(torch.int64)
                w.view(-1)[idx] = tensors[module + ".outlier_val"].float()
            dense[module + ".weight"] = w
        elif not name.endswith((".qzeros", ".scales", ".g_idx") + SIDE):
            dense[name] = tensor
    os.makedirs(out_dir)
    write_checkpoint(out_dir, config, dense)
    return dense, grids, tensors, qc["bits"]


def check_linear(module, septq_w, export_w, tensors, zeros, bits):
    """Failures of one linear, and its kept count and how many kept positions moved."""
    failures = []
    idx = tensors[module + ".outlier_idx"].to(torch.int64)
    kept = tensors[module + ".outlier_val"].double()
    differs = (septq_w != export_w).view(-1).nonzero().view(-1)
    outside = set(differs.tolist()) - set(idx.tolist())
    if outside:
        failures.append("%s: %d weights not kept differ from SEPTQ's" % (module, len(outside)))
    k = septq_w.shape[1]
    n, c = idx // k, idx % k
    g = tensors[module + ".g_idx"].to(torch.int64)[c]
    scale = tensors[module + ".scales"].double()[g, n]
    zero = zeros.double()[g, n]
    codes = torch.arange(2 ** bits, dtype=torch.float64)
    grid = scale.unsqueeze(1) * (codes.unsqueeze(0) - zero.unsqueeze(1))  # [M, 2^bits]
    nearest = (grid - kept.unsqueeze(1)).abs().min(1).values
    got = export_w.view(-1)[idx].double()
    on_grid = (grid == got.unsqueeze(1)).any(1)
    if not bool(on_grid.all()):
        failures.append("%s: %d kept positions are off their grid" % (module, int((~on_grid).sum())))
    far = (got - kept).abs() != nearest
    if bool(far.any()):
        failures.append("%s: %d kept positions are not the grid point nearest to the kept value"
                        % (module, int(far.sum())))
    return failures, idx.numel(), differs.numel()


def main():
    ptq, septq, export, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    failures = []
    expected_qc = quantization_config(septq)
    expected_qc["meta"]["merged_outliers"] = True
    if quantization_config(export) != expected_qc:
        failures.append("export quantization_config %s, expected %s" % (
            quantization_config(export), expected_qc))
    exported_tensors = read_safetensors(os.path.join(export, "model.safetensors"))
    side = [n for n in exported_tensors if n.endswith(SIDE)]
    if side:
        failures.append("export holds side tensors: %s" % side[:3])
    export_dense, _ = decode_checkpoint(export, os.path.join(work, "export.decoded"))
    septq_dense, grids, septq_tensors, bits = decode_septq(septq, os.path.join(work, "septq.decoded"))
    export_diff = max_diff(ptq, os.path.join(work, "export.decoded"), export)
    septq_diff = max_diff(ptq, os.path.join(work, "septq.decoded"), septq)
    if export_diff != 0:
        failures.append("ptq evaluates other weights than the loaders' reading of the export "
                        "(max |diff| %g)" % export_diff)
    if septq_diff != 0:
        failures.append("this reader's SEPTQ weights differ from ptq's (max |diff| %g)" % septq_diff)
    kept_total, moved_total, linears = 0, 0, 0
    for module, zeros in sorted(grids.items()):
        name = module + ".weight"
        if module + ".outlier_idx" not in septq_tensors:
            if not torch.equal(septq_dense[name], export_dense[name]):
                failures.append("%s: no side store, yet the export differs" % module)
            continue
        f, kept, moved = check_linear(module, septq_dense[name], export_dense[name], septq_tensors,
                                      zeros, bits)
        failures += f
        kept_total += kept
        moved_total += moved
        linears += 1
    quantized = {module + ".weight" for module in grids}
    if set(septq_dense) != set(export_dense):
        failures.append("tensor names differ: %s" % sorted(set(septq_dense) ^ set(export_dense))[:4])
    for name in set(septq_dense) & set(export_dense) - quantized:
        if not torch.equal(septq_dense[name], export_dense[name]):
            failures.append("%s differs (not a quantized linear)" % name)
    print("%s: %d linears with side stores, %d kept weights, %d of them now differ from the kept"
          " value; max |ptq - loader reader| %g (export), %g (septq)" % (
              export, linears, kept_total, moved_total, export_diff, septq_diff))
    for failure in failures:
        print("FAIL", failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
