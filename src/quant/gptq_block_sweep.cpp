#include "quant/gptq_block_sweep.h"

#include <cstring>

#include "ptq/quant/uniform_quantizer.h"

namespace ptq::quant {

namespace {

// One column over `width` outputs: q = quant(w), err = (w - q) / d. Restrict parameters, which
// GCC keeps when it inlines: without them it would need overlap checks between six buffers to
// vectorise, and gives up. Branch-free, so that it vectorises; kept elements are patched after.
inline void quantize_column(const float* __restrict w,
                            const float* __restrict scale,
                            const float* __restrict zero,
                            float maxq,
                            float d,
                            float* __restrict qt,
                            uint8_t* __restrict codes,
                            float* __restrict err,
                            int64_t width) {
  for (int64_t n = 0; n < width; ++n) {
    const float code = quantize_code(w[n], scale[n], zero[n], maxq);
    const float q = dequantize_code(code, scale[n], zero[n]);
    qt[n] = q;
    codes[n] = static_cast<uint8_t>(code);
    err[n] = (w[n] - q) / d;
  }
}

// Tile row j -= err * h over `width` outputs.
inline void update_column(float* __restrict wj,
                          const float* __restrict err,
                          float h,
                          int64_t width) {
  for (int64_t n = 0; n < width; ++n) wj[n] -= err[n] * h;
}

}  // namespace

__attribute__((target_clones("avx512f", "avx2", "default"))) void sweep_block_tile(
    const BlockSweep& s, int64_t n0, int64_t n1, float* tile) {
  const int64_t width = n1 - n0;
  for (int64_t j = s.begin; j < s.end; ++j) {
    std::memcpy(tile + (j - s.begin) * width, s.wt + j * s.n_total + n0, width * sizeof(float));
  }
  for (int64_t i = s.begin; i < s.end; ++i) {
    const float d = s.hinv[i * s.k_total + i];
    const float* w = tile + (i - s.begin) * width;
    float* err = s.err1 + (i - s.begin) * s.n_total + n0;
    float* qt = s.qt + i * s.n_total + n0;
    quantize_column(w, s.scales[i - s.begin] + n0, s.zeros[i - s.begin] + n0, s.maxq, d, qt,
                    s.codes + i * s.n_total + n0, err, width);
    if (s.keep != nullptr) {
      const uint8_t* kept = s.keep + i * s.n_total + n0;
      for (int64_t n = 0; n < width; ++n) {
        if (kept[n] != 0) {
          qt[n] = w[n];
          err[n] = (w[n] - w[n]) / d;
        }
      }
    }
    for (int64_t j = i + 1; j < s.end; ++j) {
      update_column(tile + (j - s.begin) * width, err, s.hinv[i * s.k_total + j], width);
    }
  }
}

}  // namespace ptq::quant
