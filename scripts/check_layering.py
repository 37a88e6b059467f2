#!/usr/bin/env python3
"""Fails, listing each offence, when a file of the library includes a header of a layer above
its own, so that the layers stay free of cycles. A file's layer is its folder: src/<layer>/ or
include/ptq/<layer>/; it may include its own layer and the ones listed before it:

  common < io < tokenizer < model < data < quant < format < methods < pipeline < eval < report

(quant: the numerics; format: the GPTQ directory, read and written; methods: the method
interface, registry and methods; pipeline: the layer-by-layer loop; tools/ and tests/ sit on
top and may include anything). EXCEPTIONS lists the includes that break the order today and
why; one that is no longer there must be taken out, so the list only shrinks."""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
LAYERS = ["common", "io", "tokenizer", "model", "data", "quant", "format", "methods", "pipeline",
          "eval", "report"]
# (file, included layer): why it is allowed for now.
EXCEPTIONS = {}
INCLUDE = re.compile(r'^\s*#\s*include\s+"(?:ptq/)?(\w+)/', re.M)


def layer_of(path):
    parts = path.split("/")
    if parts[0] == "src" and len(parts) > 2:
        return parts[1]
    if parts[:2] == ["include", "ptq"] and len(parts) > 3:
        return parts[2]
    return None


def library_files():
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "src", "include"], check=True,
                         capture_output=True, text=True).stdout
    return [f for f in out.splitlines() if f.endswith((".cpp", ".h"))]


def included_layers(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return {m.group(1) for m in INCLUDE.finditer(f.read()) if m.group(1) in LAYERS}


def main():
    problems, used = [], set()
    for path in library_files():
        own = layer_of(path)
        if own not in LAYERS:
            problems.append(f"{path}: folder {own!r} is not a layer of scripts/check_layering.py")
            continue
        for layer in sorted(included_layers(path)):
            if LAYERS.index(layer) <= LAYERS.index(own):
                continue
            if (path, layer) in EXCEPTIONS:
                used.add((path, layer))
                continue
            problems.append(f"{path}: layer {own} includes {layer}, a layer above it")
    for path, layer in sorted(set(EXCEPTIONS) - used):
        problems.append(f"{path} no longer includes {layer}: remove it from EXCEPTIONS")
    if problems:
        print(f"check_layering: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print(f"check_layering: {' < '.join(LAYERS)} holds ({len(EXCEPTIONS)} known exceptions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
