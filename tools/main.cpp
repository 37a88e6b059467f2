// ptq: post-training quantization of large language models (tools/cli.h).

#include "cli.h"
#include "ptq/common/heap.h"

int main(int argc, char** argv) {
  // glibc raises its mmap threshold to the largest block freed (up to 32 MiB); layer-sized
  // tensors then come from the heap, fragment it and are not returned: streaming 72 layers of
  // a 512-wide model grew RSS by 190 MB (a malloc_trim per layer still left 50 MB peaks). A
  // fixed threshold gives such tensors their own mappings, unmapped on free, so memory stays
  // bounded by one layer however many layers are streamed (batch loops lift it: heap.h).
  ptq::bound_heap();
  return ptq::cli::run(argc, argv);
}
