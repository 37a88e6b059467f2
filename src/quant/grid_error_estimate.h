#pragma once
// A fast estimate, with a proven error bound, of one row's MSE-search score
// sum_c |dequantize(quantize(x_c)) - x_c|^norm. The MSE search (src/quant/uniform_quantizer.cpp)
// scores 80 candidate grids per row; ATen's pow costs about 5 ns per element here, so scoring
// every candidate exactly was most of SEPTQ's time at 7B width (docs/quantize-bench.md,
// round 9). The search ranks candidates by this estimate and computes the exact ATen score only
// for the candidates the bound cannot rule out, which keeps its grids bit for bit.

#include <cstdint>
#include <optional>

namespace ptq::quant {

// out[c] = |dequantize(quantize(x_c)) - x_c| for c in [0, cols): the errors both the estimate
// and the exact score are made of.
void grid_errors(const float* x, int64_t cols, float scale, float zero, float maxq, float* out);

// Norms the estimate supports; the search scores others exactly.
bool grid_error_estimate_supported(double norm);

// The score of x[0, cols) on the grid (scale, zero, maxq), from fp32 log2 / exp2 polynomials
// summed in 16 fp32 lanes. Not finite when a term leaves the range the bound covers (an error
// above 2^64, a result above 2^127, a non-finite x or grid): such an estimate proves nothing.
// None, early, once the lower bound of the sum so far exceeds `ceiling`: the score then
// provably exceeds every score whose upper bound is `ceiling`.
std::optional<double> estimate_grid_error(
    const float* x, int64_t cols, float scale, float zero, float maxq, float norm, double ceiling);

// Bounds that hold for any finite estimate E' of a row of `cols` elements against the score E
// that ATen computes from the same fp32 errors (pow_ then sum, in any order, on any vector
// width): lower(E') <= E <= upper(E'). Derived in src/quant/grid_error_estimate.cpp.
double grid_error_lower_bound(double estimate, int64_t cols, double norm);
double grid_error_upper_bound(double estimate, int64_t cols, double norm);

}  // namespace ptq::quant
