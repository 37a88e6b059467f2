# Sourced by the results scripts (their first argument, if any, is the ptq binary): sets root,
# ptq (default build/ptq), shared (PTQ_SHARED_DIR, default ../shared), model and tokens (the
# stories260K checkpoint and its token sets), threads (PTQ_THREADS, default 1: on a shared
# 2-core machine oversubscribed threads made runs ~20x slower) and work, a scratch folder
# removed on exit.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ptq="${1:-$root/build/ptq}"
shared="${PTQ_SHARED_DIR:-$root/../shared}"
model="$shared/models/stories260K-hf"
tokens="$shared/models/stories260K"
threads="${PTQ_THREADS:-1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
