#pragma once
// How the process heap trades memory bound against page faults.
//
// Streaming a model keeps memory bounded by one layer only if layer-sized tensors get their
// own mappings, unmapped on free (glibc otherwise raises its mmap threshold to the largest
// block freed, and such tensors then fragment the heap and stay resident). But the same rule
// makes every batch temporary of a calibration forward pass above the threshold a fresh
// mapping, zeroed and faulted in page by page by the kernel and unmapped again: on
// stories260K, where attention blocks and MLP activations are about 1 MiB, that was half of
// GPTQ's time. So the tool bounds the heap once, and a batch loop reuses heap blocks for its
// duration:
//
//   ptq::bound_heap();                    // tools/main.cpp, at startup
//   { ptq::BatchHeap reuse; for (...) forward(batch); }   // on exit, free pages go back

namespace ptq {

// Allocations of 1 MiB and more get their own mappings from now on.
void bound_heap();

// While alive (and only after bound_heap()), blocks up to 32 MiB (glibc's largest mmap
// threshold) are served and kept by the heap, so a loop's same-sized temporaries reuse pages
// already mapped. On destruction the bound is restored and the heap's free pages returned to
// the kernel. Scopes may nest (the outermost one acts); create them on the thread that drives
// the loop.
class BatchHeap {
 public:
  BatchHeap();
  ~BatchHeap();
  BatchHeap(const BatchHeap&) = delete;
  BatchHeap& operator=(const BatchHeap&) = delete;

 private:
  bool _active;
};

}  // namespace ptq
