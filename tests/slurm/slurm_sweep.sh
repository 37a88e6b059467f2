#!/usr/bin/env bash
# The Slurm submission of scripts/sweep.sh against a real single-node Slurm (munged, slurmctld
# and slurmd started here from a temp folder, in the foreground: no systemd needed), as a
# database-backed project tests against a real database:
#   1. README.md's submission lines (the header of scripts/sweep.sh holds the same), verbatim,
#      on configs/sweeps/ci.grid: every task exits 0, the summary job too, and every report's
#      perplexity equals the local run's (LOCAL_OUT, sweep_quick's xargs run, same threads);
#      Slurm's output files are in OUT/slurm/, none in the checkout.
#   2. The same lines on a grid with one failing job (wbits 99): that task exits with ptq's 2,
#      the summary job runs anyway (afterany), names the job and its log, and exits 1.
# Stops only the daemons it started, by PID. Exits 77 (ctest's SKIP_RETURN_CODE) when Slurm is
# not installed (scripts/setup.sh installs it) or does not start.
#
#   tests/slurm/slurm_sweep.sh CHECKOUT PTQ LOCAL_OUT
set -euo pipefail
src="$(realpath "$1")"
PTQ_BIN="$(realpath "$2")"  # the ptq under test: sbatch passes the environment to the tasks
export PTQ_BIN
local_out="$(realpath "$3")"
deadline=$((SECONDS + 150))

skip() {
  echo "SKIP: $*" >&2
  exit 77
}
for command in munged slurmctld slurmd sbatch squeue scontrol sinfo setpriv; do
  command -v "$command" > /dev/null ||
    skip "$command not found: Slurm is not installed (slurmctld slurmd slurm-client munge)"
done
[[ "$(id -u)" == 0 ]] || skip "slurmd runs jobs as their user: this test needs root"
id munge > /dev/null 2>&1 || skip "no munge user (package munge)"

dir="$(mktemp -d /tmp/ptq-slurm.XXXXXX)"
pids=()
# shellcheck disable=SC2317  # run by the EXIT trap
stop() {
  # Jobs first (their slurmstepd and ptq processes), then the daemons, each by its PID.
  local pid tries=0
  if [[ ${#pids[@]} -eq 3 ]] && scancel --quiet --user=root 2> /dev/null; then
    while [[ -n "$(squeue -h -o %i 2> /dev/null)" ]] && ((tries++ < 20)); do sleep 0.5; done
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  rm -rf "$dir"
}
trap stop EXIT
logs() { tail -n 5 "$dir"/log/*.log "$dir"/munge/munged.log 2> /dev/null || true; }

chmod 755 "$dir"  # munged, as user munge, reaches its folder through it
mkdir -p "$dir"/{munge,state,spool,log}
chown munge: "$dir/munge"
export SLURM_CONF="$dir/slurm.conf"
host="$(hostname -s)"
# slurmd -C: this machine's CPUs, sockets and memory as a NodeName line. The daemons talk over
# 127.0.0.1, whether or not the host name resolves.
node="$(slurmd -C | head -n 1)"
cat > "$SLURM_CONF" <<EOF
ClusterName=ptqtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket.2
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
MinJobAge=3600
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

setpriv --reuid=munge --regid=munge --clear-groups munged -F \
  --socket="$dir/munge/munge.socket.2" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" \
  > "$dir/log/munged.out" 2>&1 &
pids+=($!)
slurmctld -D -i -f "$SLURM_CONF" > "$dir/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" > "$dir/log/slurmd.out" 2>&1 &
pids+=($!)
until [[ "$(sinfo -h -N -o %t 2> /dev/null)" == idle ]]; do
  if ((SECONDS > 30)); then
    logs >&2
    skip "the Slurm node did not come up within 30 s (logs above)"
  fi
  sleep 0.5
done
echo "Slurm up in $SECONDS s"

# README.md's lines from `grid=... out=...` to the end of their block, and the header's.
readme="$(sed -n '/^grid=configs\/sweeps\/ci.grid out=sweep-out$/,/^```$/p' "$src/README.md" |
  sed '1d;$d')"
header="$(sed -n '/^#   grid=configs\/sweeps\/ci.grid out=sweep-out$/,/^#$/p' \
  "$src/scripts/sweep.sh" |
  sed '1d;$d;s/^#   //')"
[[ -n "$readme" ]] || { echo "FAIL: no submission lines in README.md" >&2; exit 1; }
if [[ "$readme" != "$header" ]]; then
  echo "FAIL: README.md's submission lines differ from scripts/sweep.sh's header" >&2
  diff <(echo "$readme") <(echo "$header") >&2
  exit 1
fi

submit() {  # GRID OUT: the lines, run from the checkout; prints the array's and summary's ids
  local submitted
  # shellcheck disable=SC2034,SC2154  # grid and out are read, id set, by the lines
  submitted="$(cd "$src" && grid="$1" out="$2" && eval "$readme" && echo "${id%%;*}")"
  echo "$(tail -n 1 <<< "$submitted") $(sed -n 's/^Submitted batch job //p' <<< "$submitted")"
}
fail_grid="$dir/fail.grid"
sed 's/^wbits = .*/wbits = 4 99/;s/^methods = .*/methods = rtn/;/^recipes/d' \
  "$src/configs/sweeps/ci.grid" > "$fail_grid"
read -r array summary <<< "$(submit configs/sweeps/ci.grid "$dir/out")"
read -r fail_array fail_summary <<< "$(submit "$fail_grid" "$dir/fail")"
echo "submitted: array $array + summary $summary (ci.grid)," \
  "$fail_array + $fail_summary (one failing job)"

until [[ -z "$(squeue -h -o %i)" ]]; do
  if ((SECONDS > deadline)); then
    squeue >&2
    logs >&2
    echo "FAIL: the jobs did not end within $deadline s" >&2
    exit 1
  fi
  sleep 1
done
echo "all jobs ended at $SECONDS s"

status=0
check() {  # WHAT COMMAND...: runs COMMAND, FAIL: WHAT unless it succeeds
  local what="$1"
  shift
  if ! "$@"; then
    echo "FAIL: $what" >&2
    status=1
  fi
}
# A job's (or an array task's, ID_TASK) ExitCode=CODE:SIGNAL, kept by slurmctld (MinJobAge).
exit_code() { scontrol -o show job "$1" | sed -n 's/.* ExitCode=\([0-9:]*\) .*/\1/p'; }

jobs="$(bash "$src/scripts/sweep.sh" --grid "$src/configs/sweeps/ci.grid" --count)"
for ((i = 0; i < jobs; i++)); do
  check "ci.grid task $i exits $(exit_code "${array}_$i"), not 0:0" \
    test "$(exit_code "${array}_$i")" == 0:0
done
check "ci.grid's summary exits $(exit_code "$summary"), not 0:0" \
  test "$(exit_code "$summary")" == 0:0
check "no summary-$summary.out naming $jobs jobs done" \
  grep -q "sweep.sh: $jobs jobs done" "$dir/out/slurm/summary-$summary.out"
check "Slurm output files in the checkout" test -z "$(find "$src" -maxdepth 1 -name 'slurm-*.out')"
check "not $jobs task outputs + 1 summary in OUT/slurm" \
  test "$(find "$dir/out/slurm" -name '*.out' | wc -l)" -eq $((jobs + 1))
# Every report: the local run's perplexity exactly, and absolute paths.
check "reports differ from the local run's" python3 - "$dir/out" "$local_out" "$jobs" <<'EOF'
import json, pathlib, sys
slurm, local, jobs = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3])
reports = sorted(p for p in slurm.glob("*.json"))
ok = len(reports) == jobs
print(f"{len(reports)} reports from Slurm, {jobs} jobs")
for path in reports:
    mine, theirs = json.loads(path.read_text()), json.loads((local / path.name).read_text())
    a, b = mine["eval"]["perplexity"], theirs["eval"]["perplexity"]
    paths = [mine["settings"]["model"], mine["settings"]["out"],
             mine["eval"]["dataset"][len("tokens:"):]]
    same, absolute = a == b, all(p.startswith("/") for p in paths)
    ok = ok and same and absolute
    print(f"{path.stem}: perplexity {a!r} (local {b!r}){'' if same else ' DIFFERS'}"
          f"{'' if absolute else ' relative path in ' + repr(paths)}")
sys.exit(0 if ok else 1)
EOF

failing=stories260K-hf-rtn-w99-g-1
check "the failing task exits $(exit_code "${fail_array}_1"), not ptq's 2:0" \
  test "$(exit_code "${fail_array}_1")" == 2:0
check "the other task exits $(exit_code "${fail_array}_0"), not 0:0" \
  test "$(exit_code "${fail_array}_0")" == 0:0
check "the failing grid's summary exits $(exit_code "$fail_summary"), not 1:0" \
  test "$(exit_code "$fail_summary")" == 1:0
check "the summary does not name job 1 and its log" grep -qF \
  "sweep.sh: job 1 ($failing) failed; $dir/fail/$failing.log ends:" \
  "$dir/fail/slurm/summary-$fail_summary.out"
echo "--- the failing grid's summary output:"
cat "$dir/fail/slurm/summary-$fail_summary.out"
echo "test done in $SECONDS s"
exit "$status"
