#!/usr/bin/python3
"""Mean next-token NLL of the converted stories260K checkpoint, in fp64 (run by hand).

    /usr/bin/python3 stories260k_nll.py SHARED_DIR [ROWS]

Reads SHARED_DIR/models/stories260K-hf (LLaMA layout, F32) and the first ROWS rows (default 4;
64 = the whole set) of SHARED_DIR/models/stories260K/samples-eval-64x512-seed2.i32 (int32 LE,
rows of 512), runs make_fixtures.llama_forward (the HF LLaMA equations in fp64) and prints the
mean NLL over the 511 shifted targets of every row. With ROWS=64 it must print docs/test-data.md's
2.752390; the 4-row value is hard-coded in tests/model/llama_test.cpp.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import llama_forward  # noqa: E402


def read_safetensors_f32(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", name
        begin, end = entry["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype="<f4").reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.astype(np.float64))
    return tensors


def main():
    shared, rows = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 4
    model_dir = os.path.join(shared, "models", "stories260K-hf")
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    weights = read_safetensors_f32(os.path.join(model_dir, "model.safetensors"))
    path = os.path.join(shared, "models", "stories260K", "samples-eval-64x512-seed2.i32")
    ids = torch.from_numpy(np.fromfile(path, dtype="<i4").reshape(-1, 512)[:rows].astype(np.int64))
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, rows, 4):
            batch = ids[start:start + 4]
            logp = torch.log_softmax(llama_forward(cfg, weights, batch), -1)
            nll = -logp[:, :-1].gather(-1, batch[:, 1:, None])
            total += nll.sum().item()
            count += nll.numel()
    mean = total / count
    print("rows %d  mean NLL %.9f  ppl %.6f" % (rows, mean, np.exp(mean)))


if __name__ == "__main__":
    main()
