#!/usr/bin/env bash
# Sets up (installs packages, builds) and runs the whole test suite, then runs it again on a
# build with AddressSanitizer and UndefinedBehaviorSanitizer (build-asan/), where any report
# fails the test that triggered it. PTQ_SANITIZE_TESTS=0 skips the second pass locally.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
(cd build && ctest --output-on-failure -j "$(nproc)")

if [ "${PTQ_SANITIZE_TESTS:-1}" != 0 ]; then
  # -O1 -g1 (line tables: enough for ASan's stack traces) compiles in half the CPU time of
  # RelWithDebInfo's -O2 -g (measured on gptq.cpp, gptq_test.cpp, quantize_command.cpp:
  # 25/21/79 s -> 13/11/41 s), which is most of CI's time; -O1 is what ASan recommends.
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DPTQ_SANITIZE=ON \
    -DPTQ_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j "$(nproc)"
  # The tests that bound the resident memory of real runs in a cgroup are compiled disabled
  # here (tests/memory_cgroup.h: ASan's shadow memory and quarantine break such bounds); they
  # ran above. slurm_sweep tests the Slurm submission, not ptq (sweep_quick runs the same jobs).
  export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  (cd build-asan && ctest --output-on-failure -j "$(nproc)" \
    -E '^slurm_sweep$')
fi
