#!/usr/bin/env python3
"""torch.save checkpoints for the pytorch_model.bin reader (src/io/torch_checkpoint.cpp).

Usage: make_torch_bin_fixtures.py OUT_DIR

Writes OUT_DIR/torch_bin/:
  llama/            the "llama" fixture of make_fixtures.py (same config, same weights) as one
                    pytorch_model.bin, written by torch.save of an OrderedDict state dict with
                    the _metadata attribute nn.Module.state_dict() attaches.
  llama_sharded/    the "llama_sharded" fixture as pytorch_model-0000k-of-00003.bin shards plus
                    pytorch_model.bin.index.json, as transformers' save_pretrained lays them out.
  views.bin         tensors that are views: a transpose, a narrow at a storage offset, two
                    tensors sharing one storage, an nn.Parameter, bf16/fp16/int64 dtypes;
  views.safetensors the same tensors as contiguous copies (what the reader must return).
  malicious/NAME.bin   zip archives whose data.pkl, written opcode by opcode, would run a
                    command creating OUT_DIR/torch_bin/PWNED if it were unpickled by Python.
  crafted/NAME.bin  well-formed pickles (Python's pickler with torch's persistent ids) whose
                    tensors do not fit their storages, or whose storage record is short or
                    missing; and a valid archive with deflated records.

Needs Debian's python3-torch (1.13) and numpy.
"""

import collections
import json
import io
import os
import pickle
import pickletools
import struct
import sys
import zipfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402


def fixture_weights(name):
    cfg, make_weights, _, _ = make_fixtures.FIXTURES[name]
    seed = make_fixtures.fixture_seed(name)
    return cfg, make_weights(cfg, 1000 + seed, make_fixtures.TORCH_DTYPES[cfg["torch_dtype"]]).stored


def state_dict(tensors):
    """An OrderedDict with the _metadata attribute, as nn.Module.state_dict() returns it."""
    sd = collections.OrderedDict((n, tensors[n]) for n in sorted(tensors))
    sd._metadata = collections.OrderedDict([("", {"version": 1})])
    return sd


def write_config(dir_path, cfg):
    with open(os.path.join(dir_path, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)


def write_single(out, name):
    cfg, tensors = fixture_weights(name)
    dir_path = os.path.join(out, name)
    os.makedirs(dir_path, exist_ok=True)
    write_config(dir_path, cfg)
    torch.save(state_dict(tensors), os.path.join(dir_path, "pytorch_model.bin"))


def write_sharded(out, name, shards):
    cfg, tensors = fixture_weights(name)
    dir_path = os.path.join(out, name)
    os.makedirs(dir_path, exist_ok=True)
    write_config(dir_path, cfg)
    names = sorted(tensors)
    per_shard = -(-len(names) // shards)
    weight_map, total = {}, 0
    for i in range(shards):
        file = "pytorch_model-%05d-of-%05d.bin" % (i + 1, shards)
        part = {n: tensors[n] for n in names[i * per_shard:(i + 1) * per_shard]}
        torch.save(state_dict(part), os.path.join(dir_path, file))
        for n, t in part.items():
            weight_map[n] = file
            total += t.numel() * t.element_size()
    with open(os.path.join(dir_path, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f,
                                indent=2, sort_keys=True)


def write_views(out):
    g = torch.Generator().manual_seed(7)
    base = torch.randn(6, 5, generator=g)
    flat = torch.randn(40, generator=g)
    tensors = collections.OrderedDict([
        ("transposed", base.t()),                    # strides (1, 5)
        ("narrowed", flat.narrow(0, 8, 12).view(3, 4)),  # storage offset 8
        ("shared_a", flat[:10]),                     # same storage as narrowed
        ("param", torch.nn.Parameter(torch.randn(3, 2, generator=g))),
        ("half", torch.randn(4, 3, generator=g).half()),
        ("bf16", torch.randn(2, 7, generator=g).bfloat16()),
        ("ints", torch.arange(-3, 9, dtype=torch.int64).view(3, 4)),
        ("scalar", torch.tensor(2.5)),
        ("empty", torch.zeros(0, 4)),
    ])
    torch.save(tensors, os.path.join(out, "views.bin"))
    make_fixtures.write_safetensors(
        os.path.join(out, "views.safetensors"),
        {n: t.detach().contiguous() for n, t in tensors.items()})


# --- Hand-written pickles. Opcodes as in Python's Lib/pickle.py (protocol 2 unless noted).

def zip_archive(path, pickle_bytes, storages=(), compression=zipfile.ZIP_STORED):
    """A torch.save-shaped zip: archive/data.pkl, archive/data/KEY, archive/version."""
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        for key, data in storages:
            z.writestr("archive/data/" + key, data)
        z.writestr("archive/version", "3\n")


def unicode(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def call_global(module, name, arg):
    """GLOBAL module name; (arg,); REDUCE: what pickle writes for module.name(arg)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n" + unicode(arg) + b"\x85R"


def write_malicious(out):
    mal = os.path.join(out, "malicious")
    os.makedirs(mal, exist_ok=True)
    marker = os.path.join(out, "PWNED")
    command = "touch " + marker
    # A valid one-tensor state dict whose second value is the payload, so the refusal must
    # come from the global itself, not from a malformed archive.
    storage_pid = (b"(" + unicode("storage") + b"ctorch\nFloatStorage\n" + unicode("0") +
                   unicode("cpu") + b"K\x02tQ")
    tensor = (b"ctorch._utils\n_rebuild_tensor_v2\n(" + storage_pid + b"K\x00K\x02\x85K\x01\x85"
              b"\x89ccollections\nOrderedDict\n)RtR")
    pickles = {
        "os_system": b"\x80\x02" + call_global("os", "system", command) + b".",
        "builtins_eval": (b"\x80\x02" + call_global("builtins", "eval",
                                                    "__import__('os').system('%s')" % command)
                          + b"."),
        # protocol 4: STACK_GLOBAL takes module and name from the stack
        "posix_system_stack_global": (b"\x80\x04" + unicode("posix") + unicode("system") +
                                      b"\x93" + unicode(command) + b"\x85R."),
        "subprocess_in_state_dict": (b"\x80\x02}(" + unicode("w") + tensor + unicode("x") +
                                     call_global("subprocess", "call", command) + b"u."),
        # INST builds an object by calling module.name(*args) without a REDUCE
        "inst_os_system": (b"\x80\x02(" + unicode(command) + b"ios\nsystem\n."),
    }
    for name, data in pickles.items():
        pickletools.dis(data, out=io.StringIO())  # well-formed pickle (disassembled, not run)
        zip_archive(os.path.join(mal, name + ".bin"), data, [("0", struct.pack("<2f", 1, 2))])


class FakeStorage:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class FakeTensor:
    """Pickles as torch's Tensor.__reduce_ex__ does, with any storage offset, size and stride."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


class StoragePickler(pickle.Pickler):
    def persistent_id(self, obj):  # torch.serialization._save's persistent_id
        if isinstance(obj, FakeStorage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def write_crafted(out):
    crafted = os.path.join(out, "crafted")
    os.makedirs(crafted, exist_ok=True)
    four_floats = struct.pack("<4f", 1, 2, 3, 4)
    cases = {
        # 2 x 3 contiguous needs 6 elements; the storage has 4
        "tensor_past_storage": (FakeTensor(FakeStorage("0", 4), 0, (2, 3), (3, 1)), four_floats),
        # the last element (offset 2 + 1 * 2) is element 4 of a 4-element storage
        "offset_past_storage": (FakeTensor(FakeStorage("0", 4), 2, (2,), (2,)), four_floats),
        # the pickle declares 8 elements, the record holds 4
        "short_storage_record": (FakeTensor(FakeStorage("0", 8), 0, (8,), (1,)), four_floats),
        "missing_storage_record": (FakeTensor(FakeStorage("7", 4), 0, (4,), (1,)), four_floats),
        "negative_stride": (FakeTensor(FakeStorage("0", 4), 3, (4,), (-1,)), four_floats),
        # 2^40 elements all on element 0: a contiguous copy would take 4 TiB
        "expanded": (FakeTensor(FakeStorage("0", 4), 0, (1 << 40,), (0,)), four_floats),
    }
    for name, (tensor, data) in cases.items():
        buffer = io.BytesIO()
        StoragePickler(buffer, protocol=2).dump(collections.OrderedDict([("w", tensor)]))
        zip_archive(os.path.join(crafted, name + ".bin"), buffer.getvalue(), [("0", data)])
    # a valid state dict, but deflated: its storages cannot be mapped
    buffer = io.BytesIO()
    StoragePickler(buffer, protocol=2).dump(
        collections.OrderedDict([("w", FakeTensor(FakeStorage("0", 4), 0, (4,), (1,)))]))
    zip_archive(os.path.join(crafted, "compressed.bin"), buffer.getvalue(), [("0", four_floats)],
                zipfile.ZIP_DEFLATED)


def main():
    out = os.path.join(sys.argv[1], "torch_bin")
    os.makedirs(out, exist_ok=True)
    write_single(out, "llama")
    write_sharded(out, "llama_sharded", 3)
    write_views(out)
    write_malicious(out)
    write_crafted(out)
    print("torch_bin fixtures in", out)


if __name__ == "__main__":
    main()
