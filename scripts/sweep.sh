#!/usr/bin/env bash
# Sweeps a grid of quantization runs: models x methods x bits x group sizes (x keep-percent for
# septq), plus recipes (configs/*.json) x models. Every job is one `ptq quantize --report
# --eval` writing OUT/<job>.json (and OUT/<job>.log); the summary step turns the reports into
# OUT/summary.md and OUT/plot.svg with `ptq report`.
#
#   scripts/sweep.sh --grid configs/sweeps/ci.grid [--out DIR] [--ptq BIN] [--jobs N]
#       all jobs, N at a time (xargs -P; default: nproc), then the summary
#   scripts/sweep.sh --grid G --list | --count    the jobs, one per line, or how many
#   scripts/sweep.sh --grid G --job I             job I only (0-based)
#   scripts/sweep.sh --grid G --summary           the summary of the reports in OUT only
#
# On a Slurm cluster the same script runs unchanged as an array job, one task per job (a task
# sees SLURM_ARRAY_TASK_ID and runs that job), then the summary once they all succeeded:
#
#   n=$(scripts/sweep.sh --grid G --count)
#   id=$(sbatch --parsable --array=0-$((n - 1)) scripts/sweep.sh --grid G --out OUT)
#   sbatch --dependency=afterok:$id scripts/sweep.sh --grid G --out OUT --summary
#
# Grid files (configs/sweeps/*.grid) hold `key = value...` lines; `#` starts a comment and
# ${shared} is the shared data folder (PTQ_SHARED_DIR, default ../shared). Keys: models (HF
# directories; a bare name is ${shared}/models/NAME), methods, wbits, groups, keep (septq's
# keep-percent), recipes (crossed with models only), calib, eval (data specs as ptq quantize
# takes them), nsamples, seqlen, eval_rows (score only the first rows of a tokens: eval set;
# each row is seqlen tokens). PTQ_THREADS sets ptq --threads per job (default 1: parallel jobs
# already fill the cores).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
ptq="$root/build/ptq"
out="$root/sweep-out"
grid=""
mode=all
job=""
parallel="$(nproc)"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --grid) grid="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --ptq) ptq="$2"; shift 2 ;;
    --jobs) parallel="$2"; shift 2 ;;
    --list) mode=list; shift ;;
    --count) mode=count; shift ;;
    --job) mode=job; job="$2"; shift 2
           [[ "$job" =~ ^[0-9]+$ ]] || { echo "sweep.sh: --job '$job' is not a job number" >&2; exit 2; } ;;
    --summary) mode=summary; shift ;;
    *) echo "sweep.sh: unknown option '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
[[ -n "$grid" ]] || { echo "sweep.sh: --grid FILE is required" >&2; exit 2; }
[[ -f "$grid" ]] || { echo "sweep.sh: grid file '$grid' not found" >&2; exit 2; }
if [[ "$mode" == all && -n "${SLURM_ARRAY_TASK_ID:-}" ]]; then
  mode=job
  job="$SLURM_ARRAY_TASK_ID"
fi

shared="$(cd "${PTQ_SHARED_DIR:-$root/../shared}" && pwd)"
declare -A conf=([methods]="" [wbits]="" [groups]="-1" [keep]="1" [recipes]="" [nsamples]="128"
                 [seqlen]="" [eval_rows]="")
line_no=0
while IFS= read -r line || [[ -n "$line" ]]; do
  line_no=$((line_no + 1))
  line="${line%%#*}"
  [[ "$line" =~ ^[[:space:]]*$ ]] && continue
  if [[ ! "$line" =~ ^[[:space:]]*([a-z_]+)[[:space:]]*=[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]]; then
    echo "sweep.sh: $grid:$line_no: expected 'key = value...', got '$line'" >&2
    exit 2
  fi
  key="${BASH_REMATCH[1]}"
  case "$key" in
    models|methods|wbits|groups|keep|recipes|calib|eval|nsamples|seqlen|eval_rows) ;;
    *) echo "sweep.sh: $grid:$line_no: unknown key '$key'" >&2; exit 2 ;;
  esac
  conf[$key]="${BASH_REMATCH[2]//\$\{shared\}/$shared}"
done < "$grid"

# Numbers are data, never shell arithmetic (which would run `conf[$(cmd)]` and read 010 as
# octal): each word must match its pattern, and is then written in plain decimal.
numbers() {  # KEY PATTERN WHAT
  local word given words=()
  read -ra given <<< "${conf[$1]}"  # words, without pathname expansion
  for word in "${given[@]}"; do
    if [[ ! "$word" =~ ^$2$ ]]; then
      echo "sweep.sh: $grid: $1: '$word' is not $3" >&2
      exit 2
    fi
    [[ "$word" =~ ^-?[0-9]+$ ]] && word="${word%%[0-9]*}$((10#${word#-}))"
    words+=("$word")
  done
  conf[$1]="${words[*]}"
}
numbers wbits '[0-9]+' "a whole number of bits"
numbers groups '(-1|[0-9]+)' "a group size (-1 or a whole number)"
numbers keep '[0-9]+(\.[0-9]+)?' "a percentage"
numbers nsamples '[0-9]+' "a whole number"
numbers seqlen '[0-9]+' "a whole number"
numbers eval_rows '[0-9]+' "a whole number"
for key in models calib eval; do
  [[ -n "${conf[$key]:-}" ]] || { echo "sweep.sh: $grid: '$key = ...' is required" >&2; exit 2; }
done
if [[ -n "${conf[eval_rows]}" && ( -z "${conf[seqlen]}" || "${conf[eval]}" != tokens:* ) ]]; then
  echo "sweep.sh: $grid: eval_rows needs seqlen and a tokens: eval set" >&2
  exit 2
fi

model_dir() { if [[ "$1" == */* ]]; then echo "$1"; else echo "$shared/models/$1"; fi; }

# Job names start with the model folder's name; when two models share one (a/llama, b/llama),
# with its position in the list too, so their jobs write distinct outputs, reports and logs.
model_name() {  # MODEL INDEX
  local other count=0
  for other in ${conf[models]}; do
    [[ "$(basename "$other")" == "$(basename "$1")" ]] && count=$((count + 1))
  done
  if ((count > 1)); then echo "$(basename "$1")-m$2"; else basename "$1"; fi
}

# One line per job: NAME MODEL_DIR OPTIONS...
list_jobs() {
  local model name method bits group keep recipe index=0
  for model in ${conf[models]}; do
    index=$((index + 1))
    name="$(model_name "$model" "$index")"
    for method in ${conf[methods]}; do
      for bits in ${conf[wbits]}; do
        for group in ${conf[groups]}; do
          if [[ "$method" == septq ]]; then
            for keep in ${conf[keep]}; do
              echo "$name-septq-w$bits-g$group-k$keep $(model_dir "$model") --method septq" \
                "--wbits $bits --group-size $group --keep-percent $keep"
            done
          else
            echo "$name-$method-w$bits-g$group $(model_dir "$model") --method $method" \
              "--wbits $bits --group-size $group"
          fi
        done
      done
    done
    for recipe in ${conf[recipes]}; do
      [[ "$recipe" == */* ]] || recipe="$root/configs/$recipe"
      echo "$name-$(basename "$recipe" .json) $(model_dir "$model") --config $recipe"
    done
  done
}

# The eval set a job scores: the first eval_rows rows of a tokens: file, cut once per sweep.
eval_set() {
  if [[ -z "${conf[eval_rows]}" ]]; then
    echo "${conf[eval]}"
    return
  fi
  local cut="$out/eval-${conf[eval_rows]}x${conf[seqlen]}.i32"
  if [[ ! -f "$cut" ]]; then
    head -c "$((${conf[eval_rows]} * ${conf[seqlen]} * 4))" "${conf[eval]#tokens:}" > "$cut.tmp.$$"
    mv "$cut.tmp.$$" "$cut"
  fi
  echo "tokens:$cut"
}

run_job() {
  local spec
  spec="$(list_jobs | sed -n "$(($1 + 1))p")"
  [[ -n "$spec" ]] || { echo "sweep.sh: no job $1 in $grid ($(list_jobs | wc -l) jobs)" >&2; exit 2; }
  local name model options
  read -r name model options <<< "$spec"
  local extra=()
  [[ -z "${conf[seqlen]}" ]] || extra+=(--seqlen "${conf[seqlen]}")
  mkdir -p "$out/models"
  # A fresh run: a failed earlier attempt may have left its resume checkpoint (NAME.work).
  rm -rf "${out:?}/models/$name" "$out/models/$name.work" "$out/$name.json"
  # shellcheck disable=SC2086  # options are words from the grid
  if ! "$ptq" -q --threads "${PTQ_THREADS:-1}" quantize --model "$model" $options \
      --calib "${conf[calib]}" --nsamples "${conf[nsamples]}" "${extra[@]}" \
      --out "$out/models/$name" --report "$out/$name.json" --eval "$(eval_set)" \
      > "$out/$name.log" 2>&1; then
    echo "sweep.sh: job $1 ($name) failed; see $out/$name.log" >&2
    rm -rf "${out:?}/models/$name" "$out/models/$name.work"
    exit 1
  fi
  rm -rf "${out:?}/models/$name"
  echo "$name done"
}

summarize() {
  "$ptq" report "$out" --markdown "$out/summary.md" --plot "$out/plot.svg"
}

case "$mode" in
  list) list_jobs ;;
  count) list_jobs | wc -l ;;
  job) mkdir -p "$out"; run_job "$job" ;;
  summary) summarize ;;
  all)
    mkdir -p "$out"
    count="$(list_jobs | wc -l)"
    start=$SECONDS
    status=0
    seq 0 $((count - 1)) | xargs -P "$parallel" -I{} \
      bash "$0" --grid "$grid" --out "$out" --ptq "$ptq" --job {} || status=$?
    echo "sweep.sh: $count jobs in $((SECONDS - start)) s"
    summarize
    exit "$status"
    ;;
esac
