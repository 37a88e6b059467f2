#!/usr/bin/env bash
# Sweeps a grid of quantization runs: models x methods x bits x group sizes (x keep-percent for
# septq), plus recipes (configs/*.json) x models. Every job is one `ptq quantize --report
# --eval` writing OUT/<job>.json (and OUT/<job>.log); the summary step turns the reports into
# OUT/summary.md and OUT/plot.svg with `ptq report`, then names each job without a report.
#
#   scripts/sweep.sh --grid configs/sweeps/ci.grid [--out DIR] [--ptq BIN] [--jobs N]
#       all jobs, N at a time (xargs -P; default: nproc), then the summary
#   scripts/sweep.sh --grid G --list | --count    the jobs, one per line, or how many
#   scripts/sweep.sh --grid G --job I             job I only (0-based); exits with ptq's code
#   scripts/sweep.sh --grid G --summary           the summary of the reports in OUT; exits 1
#       naming each failed job (no report) and its log
#   --root DIR     the checkout (build/ptq, configs/, ../shared); default: this script's
#
# On a Slurm cluster the same script runs as an array job, one task per job (a task sees
# SLURM_ARRAY_TASK_ID and runs that job), then the summary once every task ended, failed or not
# (afterany). From the checkout (README.md shows these lines; tests/slurm/slurm_sweep.sh runs
# them verbatim):
#
#   grid=configs/sweeps/ci.grid out=sweep-out
#   mkdir -p "$out/slurm" && n=$(scripts/sweep.sh --grid "$grid" --count) &&
#   id=$(sbatch --parsable --array=0-$((n - 1)) --output="$out/slurm/%A_%a.out" \
#     scripts/sweep.sh --grid "$grid" --out "$out") &&
#   sbatch --dependency=afterany:"${id%%;*}" --output="$out/slurm/summary-%j.out" \
#     scripts/sweep.sh --grid "$grid" --out "$out" --summary
#
# sbatch runs a copy of this script from its spool folder: a task finds the checkout as the
# folder sbatch ran in (SLURM_SUBMIT_DIR) unless --root is given. `${id%%;*}` drops the
# ";cluster" that --parsable appends on a multi-cluster site. A requeued task (preempted, node
# lost) resumes from its checkpoint OUT/models/<job>.work (`ptq quantize --resume`).
#
# Grid files (configs/sweeps/*.grid) hold `key = value...` lines; `#` starts a comment and
# ${shared} is the shared data folder (PTQ_SHARED_DIR, default ../shared). Keys: models (HF
# directories; a bare name is ${shared}/models/NAME), methods, wbits, groups, keep (septq's
# keep-percent), recipes (crossed with models only), calib, eval (data specs as ptq quantize
# takes them), nsamples, seqlen, eval_rows (score only the first rows of a tokens: eval set;
# each row is seqlen tokens). Relative paths are from the folder the sweep runs in; reports
# record them absolute. PTQ_THREADS sets ptq --threads per job (default: SLURM_CPUS_PER_TASK
# when Slurm sets it, else 1: parallel jobs already fill the cores). PTQ_BIN is the ptq binary
# when --ptq is not given (sbatch passes the environment on to the tasks).
set -euo pipefail

root=""
ptq=""
out=""
grid=""
mode=all
job=""
parallel="$(nproc)"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --grid) grid="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --ptq) ptq="$2"; shift 2 ;;
    --root) root="$2"; shift 2 ;;
    --jobs) parallel="$2"; shift 2 ;;
    --list) mode=list; shift ;;
    --count) mode=count; shift ;;
    --job) mode=job; job="$2"; shift 2
           [[ "$job" =~ ^[0-9]+$ ]] || { echo "sweep.sh: --job '$job' is not a job number" >&2; exit 2; } ;;
    --summary) mode=summary; shift ;;
    *) echo "sweep.sh: unknown option '$1' (see the header of scripts/sweep.sh)" >&2; exit 2 ;;
  esac
done
[[ -n "$grid" ]] || { echo "sweep.sh: --grid FILE is required" >&2; exit 2; }
[[ -f "$grid" ]] || { echo "sweep.sh: grid file '$grid' not found" >&2; exit 2; }
if [[ "$mode" == all && -n "${SLURM_ARRAY_TASK_ID:-}" ]]; then
  mode=job
  job="$SLURM_ARRAY_TASK_ID"
fi

# sbatch runs a copy of the script (SlurmdSpoolDir/job<ID>/slurm_script), so $0 does not lead
# to the checkout there: the folder sbatch ran in does.
if [[ -z "$root" && -n "${SLURM_JOB_ID:-}" && "$(basename "$0")" == slurm_script ]]; then
  root="${SLURM_SUBMIT_DIR:-}"
  where="the folder sbatch ran in (SLURM_SUBMIT_DIR='$root')"
elif [[ -z "$root" ]]; then
  root="$(dirname "$0")/.."
  where="the folder above $0"
else
  where="--root $root"
fi
if [[ ! -f "$root/scripts/sweep.sh" ]]; then
  echo "sweep.sh: $where is not a ptq checkout (no scripts/sweep.sh): submit from the" \
    "checkout or pass --root DIR" >&2
  exit 2
fi
root="$(realpath -- "$root")"
# Reports record these paths: absolute, whatever folder a task runs in.
grid="$(realpath -- "$grid")"
out="$(realpath -m -- "${out:-$root/sweep-out}")"
ptq="${ptq:-${PTQ_BIN:-$root/build/ptq}}"
[[ "$ptq" != */* ]] || ptq="$(realpath -m -- "$ptq")"
threads="${PTQ_THREADS:-${SLURM_CPUS_PER_TASK:-1}}"

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

# Data specs as the reports record them: a tokens: file or a path (with a '/') absolute; named
# sets (wikitext2, c4...) as they are.
data_spec() {
  local kind="" path="$1"
  [[ "$path" != tokens:* ]] || { kind=tokens:; path="${path#tokens:}"; }
  if [[ -n "$kind" || "$path" == */* ]]; then
    echo "$kind$(realpath -m -- "$path")"
  else
    echo "$1"
  fi
}
conf[calib]="$(data_spec "${conf[calib]}")"
conf[eval]="$(data_spec "${conf[eval]}")"

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
      if [[ "$recipe" != */* ]]; then
        recipe="$root/configs/$recipe"
      else
        recipe="$(realpath -m -- "$recipe")"
      fi
      echo "$name-$(basename "$recipe" .json) $(model_dir "$model") --config $recipe"
    done
  done
}

mapfile -t jobs < <(list_jobs)
if ((${#jobs[@]} == 0)); then
  echo "sweep.sh: $grid: the grid has no jobs (it needs methods and wbits, or recipes)" >&2
  exit 2
fi

# The eval set a job scores: the first eval_rows rows of a tokens: file, cut once per sweep
# (concurrent tasks each write a temp file of their own and rename it).
eval_set() {
  if [[ -z "${conf[eval_rows]}" ]]; then
    echo "${conf[eval]}"
    return
  fi
  local cut="$out/eval-${conf[eval_rows]}x${conf[seqlen]}.i32" tmp
  if [[ ! -f "$cut" ]]; then
    tmp="$(mktemp "$cut.XXXXXX")"
    head -c "$((${conf[eval_rows]} * ${conf[seqlen]} * 4))" "${conf[eval]#tokens:}" > "$tmp"
    mv "$tmp" "$cut"
  fi
  echo "tokens:$cut"
}

# Job I: OUT/NAME.json once it succeeded (the summary counts a job without it as failed),
# OUT/NAME.log always; exits with ptq's code (2 bad input, 3 over the memory budget...).
run_job() {  # INDEX
  ((10#$1 < ${#jobs[@]})) || { echo "sweep.sh: no job $1 in $grid (${#jobs[@]} jobs)" >&2; exit 2; }
  local name model options
  read -r name model options <<< "${jobs[10#$1]}"
  read -ra options <<< "$options"  # words from the grid, without pathname expansion
  model="$(realpath -m -- "$model")"
  local extra=() work="$out/models/$name.work" status=0
  [[ -z "${conf[seqlen]}" ]] || extra+=(--seqlen "${conf[seqlen]}")
  mkdir -p "$out/models"
  rm -rf "${out:?}/models/$name" "$out/$name.json" "$out/$name.eval.json"
  local quantize=("$ptq" -q --threads "$threads" quantize --model "$model" "${options[@]}"
                  --calib "${conf[calib]}" --nsamples "${conf[nsamples]}" "${extra[@]}"
                  --out "$out/models/$name")
  if [[ "${SLURM_RESTART_COUNT:-0}" != 0 && -d "$work" ]]; then
    # Requeued by Slurm after the layers in NAME.work were done. --resume cannot score the
    # model in memory (--eval): ptq eval scores the written checkpoint, and ptq report joins
    # its NAME.eval.json to NAME.json by the model's path.
    echo "sweep.sh: job $1 ($name) requeued: resuming from $work"
    { "${quantize[@]}" --resume --report "$out/models/$name.json" &&
      "$ptq" -q --threads "$threads" eval --model "$out/models/$name" --dataset "$(eval_set)" \
        --report "$out/$name.eval.json" &&
      mv "$out/models/$name.json" "$out/$name.json"; } >> "$out/$name.log" 2>&1 || status=$?
  else
    # A fresh run: an earlier attempt may have left its resume checkpoint.
    rm -rf "$work"
    "${quantize[@]}" --report "$out/$name.json" --eval "$(eval_set)" > "$out/$name.log" 2>&1 ||
      status=$?
  fi
  rm -rf "${out:?}/models/$name"
  if ((status != 0)); then
    echo "sweep.sh: job $1 ($name) failed (exit $status); see $out/$name.log" >&2
    exit "$status"
  fi
  echo "$name done"
}

# OUT/summary.md and OUT/plot.svg from the reports there; then each job of the grid without a
# report, with its log's last line (ptq's error); exit 1 if there is one.
summarize() {
  local index name failed=0 status=0
  if compgen -G "$out/*.json" > /dev/null; then
    "$ptq" report "$out" --markdown "$out/summary.md" --plot "$out/plot.svg" || status=$?
  fi
  for index in "${!jobs[@]}"; do
    name="${jobs[index]%% *}"
    [[ ! -f "$out/$name.json" ]] || continue
    failed=$((failed + 1))
    if [[ -f "$out/$name.log" ]]; then
      echo "sweep.sh: job $index ($name) failed; $out/$name.log ends:" \
        "$(tail -n 1 "$out/$name.log")" >&2
    else
      echo "sweep.sh: job $index ($name) failed before ptq ran (no $out/$name.log)" >&2
    fi
  done
  if ((failed > 0)); then
    echo "sweep.sh: $failed of ${#jobs[@]} jobs failed; rerun one with: scripts/sweep.sh" \
      "--grid $grid --out $out --job I" >&2
    return 1
  fi
  ((status == 0)) || return "$status"
  echo "sweep.sh: ${#jobs[@]} jobs done; summary in $out/summary.md"
}

case "$mode" in
  list) printf '%s\n' "${jobs[@]}" ;;
  count) echo "${#jobs[@]}" ;;
  job) mkdir -p "$out"; run_job "$job" ;;
  summary) summarize ;;
  all)
    mkdir -p "$out"
    start=$SECONDS
    seq 0 $((${#jobs[@]} - 1)) | xargs -P "$parallel" -I{} \
      bash "$root/scripts/sweep.sh" --root "$root" --grid "$grid" --out "$out" --ptq "$ptq" \
        --job {} ||
      true  # each failed job is named by the summary
    echo "sweep.sh: ${#jobs[@]} jobs in $((SECONDS - start)) s"
    summarize
    ;;
esac
