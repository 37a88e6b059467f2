#pragma once
// septq: SEPTQ (Liu et al. 2026; ghtll/SEPTQ septq.py) - GPTQ with a static global mask of the
// most important weights (importance.h, global_mask.h), which stay in full precision (fp16 in
// the checkpoint's sparse side store, outlier_store.h) while the rest is quantized column by
// column with the usual updates. Quantizer: asymmetric, MSE-searched clipping, grids from the
// full W (kept elements included). keep_percent 0 is GPTQ with that quantizer, bit for bit.
//
// Scoring grid: the per-channel MSE grid of the full W, found once and reused by the column loop
// when quantizing per channel (the authors find it after zeroing dead input columns, which
// differs only for linears with dead inputs). With --group-size the grids are per group and
// scoring pays one extra per-channel grid search.
//
// Sequential within a decoder layer as the authors (each linear's H from inputs through the
// already quantized earlier linears): the pipeline's true-sequential groups give exactly that,
// since the linears of one group (q/k/v, gate/up) read the same input.

#include <memory>
#include <vector>

#include "ptq/methods/method.h"

namespace ptq::methods {

// Throws InputError for keep_percent outside 0..50 or a symmetric quantizer.
std::unique_ptr<quant::QuantMethod> make_septq_method(const quant::MethodOptions& options);

// --keep-percent.
std::vector<quant::MethodOption> septq_options();
// The quantizer always searches the clipping range (the authors' mse=True).
void septq_implies(quant::MethodOptions& options);

}  // namespace ptq::methods
