#!/usr/bin/env bash
# Sets up ptq and runs the main job on the default checkpoint in ../shared/models:
# converts the real llama2.c stories260K checkpoint to a Hugging Face directory, evaluates
# its perplexity on the checkpoint's own evaluation token set, quantizes it to 4 bits with
# GPTQ (calibrated on its calibration token set) and evaluates the written checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
shared="${PTQ_SHARED_DIR:-$(cd .. && pwd)/shared}"
models="build/models"
eval_set="tokens:$shared/models/stories260K/samples-eval-64x512-seed2.i32"
mkdir -p "$models"
if [ ! -f "$models/stories260K/model.safetensors" ]; then
  build/ptq convert --from llama2c "$shared/models/stories260K/stories260K.bin" --out "$models/stories260K"
fi
echo "== full precision"
build/ptq eval --model "$models/stories260K" --dataset "$eval_set" --report "$models/stories260K-eval.json"
rm -rf "$models/stories260K-gptq-w4g32"
build/ptq quantize --model "$models/stories260K" --method gptq --wbits 4 --group-size 32 \
  --calib "tokens:$shared/models/stories260K/samples-calib-128x512-seed1.i32" \
  --out "$models/stories260K-gptq-w4g32" --report "$models/stories260K-gptq-w4g32-report.json"
echo "== GPTQ 4-bit, group size 32"
build/ptq eval --model "$models/stories260K-gptq-w4g32" --dataset "$eval_set" \
  --report "$models/stories260K-gptq-w4g32-eval.json"
