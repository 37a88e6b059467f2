#!/usr/bin/env bash
# Sweeps methods x bits x keep-percent on stories260K with `ptq quantize --report --eval`: one
# JSON report per run in OUT/, and OUT/summary.md, a Markdown table of all runs (perplexity,
# effective bits per weight from each report's "storage", times). keep-percent applies to
# septq only; rtn and gptq run once per bit width.
#
#   scripts/sweep.sh [--quick] [--ptq BIN] [--out DIR] [--methods "rtn gptq septq"]
#                    [--bits "4 3 2"] [--keep "0.5 1 2"] [--group -1] [--nsamples 128]
#
# --quick (CI): 3-bit rtn, gptq and septq 1% with 4 calibration rows, scored on the first 8
# eval rows; seconds, not minutes. PTQ_SHARED_DIR overrides ../shared; PTQ_THREADS sets
# ptq --threads (default 1, robust on a shared machine).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
ptq="$root/build/ptq"
out="$root/sweep-out"
methods="rtn gptq septq"
bits_list="4 3 2"
keep_list="0.5 1 2"
group=-1
nsamples=128
eval_rows=64
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) bits_list="3"; keep_list="1"; nsamples=4; eval_rows=8; shift ;;
    --ptq) ptq="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --methods) methods="$2"; shift 2 ;;
    --bits) bits_list="$2"; shift 2 ;;
    --keep) keep_list="$2"; shift 2 ;;
    --group) group="$2"; shift 2 ;;
    --nsamples) nsamples="$2"; shift 2 ;;
    *) echo "sweep.sh: unknown option '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done

shared="${PTQ_SHARED_DIR:-$root/../shared}"
model="$shared/models/stories260K-hf"
tokens="$shared/models/stories260K"
mkdir -p "$out"
threads="${PTQ_THREADS:-1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Each eval row is 512 int32 tokens.
head -c $((eval_rows * 512 * 4)) "$tokens/samples-eval-64x512-seed2.i32" > "$work/eval.i32"

run() {
  local name="$1"
  shift
  rm -f "$out/$name.json"
  "$ptq" -q --threads "$threads" quantize --model "$model" --group-size "$group" "$@" \
    --calib "tokens:$tokens/samples-calib-128x512-seed1.i32" --nsamples "$nsamples" \
    --out "$work/$name" --report "$out/$name.json" --eval "tokens:$work/eval.i32" >/dev/null
  rm -rf "${work:?}/$name"
  echo "$name.json" >> "$work/runs"
}

start=$SECONDS
for method in $methods; do
  for bits in $bits_list; do
    if [[ "$method" == septq ]]; then
      for keep in $keep_list; do
        run "septq-w$bits-g$group-k$keep" --method septq --wbits "$bits" --keep-percent "$keep"
      done
    else
      run "$method-w$bits-g$group" --method "$method" --wbits "$bits"
    fi
  done
done

python3 - "$out" "$work/runs" "$eval_rows" "$((SECONDS - start))" <<'PY'
import json, pathlib, sys

out, runs, eval_rows, seconds = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rows = []
for name in pathlib.Path(runs).read_text().split():
    path = out / name
    r = json.loads(path.read_text())
    s = r["settings"]
    keep = f"{s['keep_percent']:g}" if s["method"] == "septq" else "-"
    rows.append((s["method"], s["wbits"], s["group_size"], keep, s["nsamples"],
                 r["eval"]["perplexity"], r["storage"]["bits_per_weight"],
                 r["quantize_seconds"], path.name))
rows.sort(key=lambda x: (-x[1], x[0], x[3]))
lines = [f"# Sweep on stories260K ({len(rows)} runs in {seconds} s, perplexity on {eval_rows} "
         "eval rows)", "",
         "| method | bits | group | keep % | calib rows | perplexity | effective bits/weight "
         "| quantize s | report |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
for m, b, g, k, n, ppl, eff, qs, name in rows:
    lines.append(f"| {m} | {b} | {g} | {k} | {n} | {ppl:.4f} | {eff:.3f} | {qs:.2f} | {name} |")
(out / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PY
