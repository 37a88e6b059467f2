#!/usr/bin/env bash
# Installs everything ptq needs from Debian's packages and builds it into build/.
# Idempotent: packages already present are not fetched again; the build is incremental.
#   bash scripts/setup.sh            # install + Release build
#   PTQ_BUILD_TYPE=Debug bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ cmake make pkg-config ccache git clang-format   # clang-format: scripts/check_format.sh
  libtorch-dev                                   # LibTorch 1.13 (CPU)
  libopenblas0-openmp libopenblas-openmp-dev     # fast BLAS behind LibTorch (reference BLAS is ~10x slower)
  libeigen3-dev libcli11-dev libspdlog-dev nlohmann-json3-dev libgtest-dev
  libpcre2-dev libicu-dev zlib1g-dev
  python3 python3-torch python3-numpy python3-sentencepiece  # tests/reference: independent references
  slurmctld slurmd slurm-client munge             # tests/slurm: a real single-node Slurm
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian links LibTorch against the BLAS chosen by update-alternatives: make it OpenBLAS.
blas=$(update-alternatives --query libblas.so.3-x86_64-linux-gnu 2>/dev/null | awk '/^Value:/ {print $2}')
case "$blas" in
  *openblas*) ;;
  *) echo "setup: warning: libblas.so.3 points to '$blas', not OpenBLAS; matrix products will be slow" >&2 ;;
esac

cmake -S . -B build -DCMAKE_BUILD_TYPE="${PTQ_BUILD_TYPE:-Release}" >/dev/null
cmake --build build -j "$(nproc)"
echo "setup: built $(pwd)/build/ptq"
