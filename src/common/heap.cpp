#include "ptq/common/heap.h"

#include <malloc.h>

#include <atomic>

namespace ptq {
namespace {

constexpr int kBoundedMmapThreshold = 1 << 20;
// glibc's default, kept fixed once the mmap threshold is set explicitly.
constexpr int kBoundedTrimThreshold = 128 << 10;
// glibc refuses thresholds above half its 64 MiB heap size (DEFAULT_MMAP_THRESHOLD_MAX).
constexpr int kBatchMmapThreshold = 32 << 20;
// Freed batch temporaries at the heap's top stay mapped for the next batch.
constexpr int kBatchTrimThreshold = 256 << 20;

std::atomic<bool> bounded{false};
std::atomic<int> batch_depth{0};

}  // namespace

void bound_heap() {
  mallopt(M_MMAP_THRESHOLD, kBoundedMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kBoundedTrimThreshold);
  bounded = true;
}

// Only the outermost of nested scopes changes the thresholds.
BatchHeap::BatchHeap() : _active(bounded && batch_depth.fetch_add(1) == 0) {
  if (!_active) return;
  mallopt(M_MMAP_THRESHOLD, kBatchMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kBatchTrimThreshold);
}

BatchHeap::~BatchHeap() {
  if (bounded) batch_depth.fetch_sub(1);
  if (!_active) return;
  mallopt(M_MMAP_THRESHOLD, kBoundedMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kBoundedTrimThreshold);
  malloc_trim(0);
}

}  // namespace ptq
