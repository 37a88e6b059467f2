#!/usr/bin/env bash
# Sets up ptq and runs the main job on the default checkpoint in ../shared/models:
# converts the real llama2.c stories260K checkpoint to a Hugging Face directory, then
# evaluates its perplexity on the checkpoint's own evaluation token set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
shared="${PTQ_SHARED_DIR:-$(cd .. && pwd)/shared}"
models="build/models"
mkdir -p "$models"
if [ ! -f "$models/stories260K/model.safetensors" ]; then
  build/ptq convert --from llama2c "$shared/models/stories260K/stories260K.bin" --out "$models/stories260K"
fi
build/ptq eval --model "$models/stories260K" \
  --dataset "tokens:$shared/models/stories260K/samples-eval-64x512-seed2.i32" \
  --json "$models/stories260K-eval.json"
