#pragma once
// The innermost loop of GPTQ's column sweep (src/quant/gptq.cpp): one lazy block's columns over
// a tile of output rows. On raw pointers, in its own file so that it is built without ATen's
// precompiled header and with the flags that let GCC vectorise it for the CPU it runs on
// (CMakeLists.txt): at 1024 x 1024 the loop was about 60% of the sweep, compiled for SSE2 only.

#include <cstdint>

namespace ptq::quant {

// One lazy block [begin, end) of the sweep, in the transposed storage gptq.cpp keeps: row i of
// wt / qt / codes is weight column i (n_total outputs each), row i - begin of err1.
struct BlockSweep {
  const float* hinv = nullptr;  // [k_total, k_total], upper Cholesky factor of H^-1
  int64_t k_total = 0;
  int64_t n_total = 0;
  int64_t begin = 0;
  int64_t end = 0;
  const float* const* scales = nullptr;  // per block column: its grid's scale per output
  const float* const* zeros = nullptr;   // and zero per output
  const uint8_t* keep = nullptr;         // [k_total, n_total] kept elements, or null
  float maxq = 0;
  const float* wt = nullptr;  // [k_total, n_total], the updated weight (read before qt is written)
  float* qt = nullptr;        // [k_total, n_total], quantized (or kept) values: wt's own storage
  float* err1 = nullptr;      // [end - begin, n_total], (w - q) / d
  uint8_t* codes = nullptr;   // [k_total, n_total]
};

// The block's columns restricted to outputs [n0, n1). The tile's [end - begin, n1 - n0] slice of
// wt is first copied into `tile` (that many floats), contiguous: in place, its rows would be
// n_total floats apart, at a power-of-two N all in a few L1 cache sets. Then per column i:
// q = quant(w), kept elements q = w, err = (w - q) / d with d = Hinv[i, i], then the tile's
// rows j in (i, end) -= err * Hinv[i, j] (gptq.py; its update of column i itself only
// reproduces q, stored directly). Each element sees these operations in this order, whatever the
// tile and the CPU: no fused multiply-add, so the results are the same bits on every clone.
void sweep_block_tile(const BlockSweep& s, int64_t n0, int64_t n1, float* tile);

}  // namespace ptq::quant
