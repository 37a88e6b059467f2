#!/usr/bin/env bash
# Regenerates docs/results-ruquant.md: weight-and-activation quantization of stories260K at
# W8A8, W6A6 and W4A4 with plain RTN, smoothing only (--smooth-only), RUQuant stage 1 and
# stage 1+2 (--tune-epochs TUNE_EPOCHS, default 20 as the authors' fine-tuning script), each
# run through `ptq quantize --report --eval` (calibration: the first NSAMPLES, default all 128,
# of the 128 x 512 calib token rows; eval: the first EVAL_ROWS, default all 64, of the 64 x 512
# eval rows; full precision 15.68007 on all 64).
# RUQuant's rotations are random: it runs with seeds 1, 2, 3 and the table gives their mean
# and spread (min..max). The runs are independent: JOBS of them (default nproc) run at once,
# each with PTQ_THREADS threads (default 1), the longest (stage 2) first. Stage 2's reports hold
# each layer's training loss (first vs last epoch); the page tabulates them.
#
#   scripts/results_ruquant.sh [PTQ_BINARY]   (default build/ptq; PTQ_SHARED_DIR overrides ../shared)
#   REPORTS=DIR scripts/results_ruquant.sh    keeps every run's JSON report in DIR
#   REPORTS=DIR TABLE_ONLY=1 scripts/results_ruquant.sh   rewrites the table from DIR's reports
#   BITS="4" scripts/results_ruquant.sh   reruns only the W4A4 rows; the other rows are copied
#                                         from the current page, labelled as an earlier run's
set -euo pipefail

source "$(dirname "$0")/lib/stories260k.sh"
nsamples="${NSAMPLES:-128}"
eval_rows="${EVAL_ROWS:-64}"
tune_epochs="${TUNE_EPOCHS:-20}"
bits_rerun="${BITS:-8 6 4}"
jobs="${JOBS:-$(nproc)}"
reports="${REPORTS:-$work}"
mkdir -p "$reports"
start=$SECONDS
head -c $((eval_rows * 512 * 4)) "$tokens/samples-eval-64x512-seed2.i32" >"$work/eval.i32"

run() {  # name bits extra-options...
  local name="$1" bits="$2"
  shift 2
  # The authors' clipping: activations 0.9 and weights 0.8 at 4 bits, none above.
  local act_clip=1.0 weight_clip=1.0
  if [ "$bits" -eq 4 ]; then act_clip=0.9; weight_clip=0.8; fi
  "$ptq" -q --threads "$threads" quantize --model "$model" --wbits "$bits" --abits "$bits" \
    --act-clip "$act_clip" --weight-clip "$weight_clip" \
    --calib "tokens:$tokens/samples-calib-128x512-seed1.i32" --nsamples "$nsamples" \
    --out "$work/$name" --report "$reports/$name.json" \
    --eval "tokens:$work/eval.i32" "$@" >/dev/null
  rm -rf "${work:?}/$name"
}

# wait_below N: waits until fewer than N runs are going; a failed run fails the script (set -e
# on `wait`).
wait_below() {
  while [ "$(jobs -rp | wc -l)" -ge "$1" ]; do wait -n; done
}

# spawn ARGS...: `run ARGS...` in the background once fewer than $jobs runs are going.
spawn() {
  wait_below "$jobs"
  run "$@" &
}

measure() {
  "$ptq" -q --threads "$threads" eval --model "$model" --dataset "tokens:$work/eval.i32" \
    --report "$reports/fp.eval" >/dev/null
  for bits in $bits_rerun; do
    for seed in 1 2 3; do
      spawn "tuned-w$bits-seed$seed" "$bits" --method ruquant --seed "$seed" \
        --tune-epochs "$tune_epochs"
    done
  done
  for bits in $bits_rerun; do
    for seed in 1 2 3; do
      spawn "ruquant-w$bits-seed$seed" "$bits" --method ruquant --seed "$seed"
    done
    spawn "smooth-w$bits" "$bits" --method ruquant --smooth-only
    spawn "rtn-w$bits" "$bits" --method rtn
  done
  wait_below 1
  echo "$((SECONDS - start)) $jobs" >"$reports/total_seconds"
}

[ "${TABLE_ONLY:-0}" = 1 ] || measure

python3 - "$reports" "$root/docs/results-ruquant.md" "$eval_rows" "$bits_rerun" <<'PY'
import json, pathlib, statistics, sys

work, out, eval_rows = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
rerun = [int(b) for b in sys.argv[4].split()]
earlier = [b for b in (8, 6, 4) if b not in rerun]
# Rows not rerun: their table row and reading, as the current page has them.
previous = out.read_text().splitlines() if out.exists() else []
def previous_line(prefix):
    found = [line for line in previous if line.startswith(prefix)]
    if not found:
        sys.exit(f"{out}: no line starting with '{prefix}' to keep (rerun those bits)")
    return found[0]
settings_run = f"tuned-w{rerun[-1]}-seed1"
fp = json.loads((work / "fp.eval").read_text())["perplexity"]
reports = {p.stem: json.loads(p.read_text()) for p in work.glob("*.json")}
seconds, jobs = (work / "total_seconds").read_text().split()
settings = reports[settings_run]["settings"]
threads, nsamples, tune_epochs = settings["threads"], settings["nsamples"], settings["tune_epochs"]

def perplexities(names):
    return [reports[n]["eval"]["perplexity"] for n in names]

# The table's method columns at `bits`, in the expected order (worst first): label, run names.
def columns(bits):
    return [("rtn", [f"rtn-w{bits}"]), ("smooth-only", [f"smooth-w{bits}"]),
            ("stage 1", [f"ruquant-w{bits}-seed{s}" for s in (1, 2, 3)]),
            ("stage 1+2", [f"tuned-w{bits}-seed{s}" for s in (1, 2, 3)])]

def cell(names):
    ppl = perplexities(names)
    secs = [reports[n]["quantize_seconds"] for n in names]
    if len(ppl) == 1:
        return f"{ppl[0]:.4f}", f"{secs[0]:.2f}"
    return (f"{statistics.mean(ppl):.4f} ({min(ppl):.4f}..{max(ppl):.4f})",
            f"{statistics.mean(secs):.2f}")

lines = [
    "## RUQuant stages 1 and 2 on stories260K (weights and activations)",
    "",
    "Generated by `scripts/results_ruquant.sh` (`ptq quantize --report --eval`). Model:",
    f"stories260K (`shared/models/stories260K-hf`); calibration: the first {nsamples} of the",
    "128 rows of `samples-calib-128x512-seed1.i32` (`--nsamples`; ruquant runs the layer over",
    f"them once per linear group); perplexity: the first {eval_rows} of the 64 x 512 rows of",
    "`samples-eval-64x512-seed2.i32` (`EVAL_ROWS`; full precision on these rows:",
    f"**{fp:.4f}**; on all 64: 15.68007).",
    "WxAx: weights per output channel, asymmetric min-max at x bits (RTN); every decoder",
    "linear's input fake-quantized per token, asymmetric min-max at x bits, at run time",
    "(`ptq eval` of the written directory gives the same perplexity). The authors' clipping at",
    "4 bits for all three methods: `--act-clip 0.9 --weight-clip 0.8` (1.0 at 6 and 8 bits).",
    "Attention: Q and K (after RoPE and a block Hadamard, order 8 = head_dim) and V are",
    "fake-quantized per token and head at x bits without clipping (the default with `--abits`;",
    "`--no-attention-quant` leaves them in fp32); the softmax probabilities stay fp32.",
    "",
    "- rtn: `--method rtn --abits x`, plain WxAx.",
    "- smooth-only: `--method ruquant --smooth-only` (SmoothQuant scales, alpha 0.6, no rotation).",
    "- ruquant stage 1: `--method ruquant` (alpha 0.6, block 128 -> 64 for width 64, 86 for",
    "  width 172; 16 Householder steps, 3 permutation + Givens passes; zigzag; global",
    "  Householder), weights RTN. Mean over `--seed` 1, 2, 3 and (min..max).",
    f"- ruquant stage 1+2: the same plus `--tune-epochs {tune_epochs}` (each layer's global",
    "  reflections tuned with AdamW, lr 0.01, one calibration sample per step, to the outputs",
    "  the full-precision model's layer gives on its own inputs; round() straight-through, each",
    "  token's and weight row's grid differentiated: docs/ruquant-stage2.md). Same seeds.",
    "",
    "Times: wall-clock seconds of quantization (calibration passes, transforms, weight",
    f"rounding, stage 2's training) on this machine, {threads} thread(s) per run and {jobs} runs",
    f"at once (the {'whole table' if not earlier else 'rerun rows'} took {seconds} s); "
    "ruquant: mean over the seeds.",
]
if earlier:
    lines += ["",
              "Rows marked *earlier* were not rerun (`BITS=\"" + " ".join(map(str, rerun)) + "\"`):",
              "they are copied from the page's previous generation, run on an earlier machine",
              "with the code of that time (their stage 2 without the changes of",
              "docs/ruquant-stage2.md); their times are that machine's."]
lines += [
    "",
    "| setting | rtn | smooth-only | ruquant stage 1 (3 seeds) | ruquant stage 1+2 (3 seeds) "
    "| rtn s | smooth-only s | stage 1 s | stage 1+2 s |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for bits in (8, 6, 4):
    if bits in earlier:
        row = previous_line(f"| W{bits}A{bits}")
        lines.append(row if "*earlier*" in row else row.replace(f"| W{bits}A{bits} |", f"| W{bits}A{bits} *earlier* |", 1))
        continue
    (r, rs), (s, ss), (q, qs), (t, ts) = [cell(names) for _, names in columns(bits)]
    lines.append(f"| W{bits}A{bits} | {r} | {s} | {q} | {t} | {rs} | {ss} | {qs} | {ts} |")

# The expected ordering rtn > smooth-only > stage 1 > stage 1+2, step by step. rtn and
# smooth-only draw nothing at random (one run each); a step between seeded columns counts only
# where their min..max ranges are disjoint.
def step(worse, better):
    (a, pa), (b, pb) = worse, better
    if max(pb) < min(pa):
        return f"{a} > {b}"
    if max(pa) < min(pb):
        return f"**{a} < {b}**, against the expected order beyond the seed spread"
    return f"{a} ~ {b} (their seed ranges overlap: within seed noise)"

lines += ["", "Read from the table (generated with it): the expected order is rtn > smooth-only >",
          "stage 1 > stage 1+2.", ""]
for bits in (8, 6, 4):
    if bits in earlier:
        line = previous_line(f"- W{bits}A{bits}")
        lines.append(line if "*earlier*" in line else line.replace(f"- W{bits}A{bits}:", f"- W{bits}A{bits} *earlier*:", 1))
        continue
    ranked = [(label, perplexities(names)) for label, names in columns(bits)]
    steps = [step(ranked[i], ranked[i + 1]) for i in range(3)]
    stage1, tuned = statistics.mean(ranked[2][1]), statistics.mean(ranked[3][1])
    steps.append(f"stage 2 lowers the seed-mean perplexity by {100 * (1 - tuned / stage1):.1f}%")
    lines.append(f"- W{bits}A{bits}: " + "; ".join(steps) + ".")
lines += [
    "",
    "Published anchors for the trend (RUQuant README, LLaMA-2-7B, WikiText-2, seqlen 2048): FP16",
    "5.47; W4A4 SmoothQuant 83.12, DuQuant 6.28, RUQuant 6.17, RUQuant+ft 6.04; W6A6 DuQuant 5.53,",
    "RUQuant 5.51. stories260K (260K parameters, 64 channels wide) shows the order, not the scale.",
]

# Stage 2's training loss per layer (the reports' layers[i].refinement): the layer output's MSE
# against the full-precision model's layer output, mean over the first epoch's samples and over
# the last's.
def loss_row(bits, seed):
    layers = reports[f"tuned-w{bits}-seed{seed}"]["layers"]
    cells = []
    for layer in layers:
        r = layer["refinement"]
        first, last = r["training_loss_first_epoch"], r["training_loss_last_epoch"]
        cells.append(f"{first:.4g} -> {last:.4g} ({100 * (last - first) / first:+.1f}%)")
    return f"| W{bits}A{bits} | {seed} | " + " | ".join(cells) + " |"

layer_count = len(reports[settings_run]["layers"])
lines += ["", "Stage 2's training loss per layer (the quantized layer's output MSE against the",
          "full-precision layer on the full-precision model's own inputs; mean over the first",
          "epoch -> mean over the last; the reports' `layers[i].refinement`):", "",
          "| setting | seed | " + " | ".join(f"layer {i}" for i in range(layer_count)) + " |",
          "|---|---:|" + "---:|" * layer_count]
lines += [loss_row(bits, seed) for bits in rerun for seed in (1, 2, 3)]
lines += ["", "How ptq's stage 2 compares with the authors' code, point by point, and what changed:",
          "docs/ruquant-stage2.md."]
out.write_text("\n".join(lines) + "\n")
print(out.read_text())
PY
