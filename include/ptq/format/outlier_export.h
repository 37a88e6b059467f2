#pragma once
// The nearest plain GPTQ checkpoint of a SEPTQ one (`ptq export --merge-outliers`,
// docs/format.md): every kept weight of a side store (outlier_store.h) replaced by the nearest
// point of its grid (outlier_merge.h), the GPTQ tensors repacked, the side tensors dropped, the
// quantization config and checkpoint format (v1/v2) kept, every other tensor and the config
// and tokenizer files copied:
//
//   MergedExport e = export_merged_outliers("out/septq-w3", "out/septq-w3-gptq", 2000000000);
//   e.merge.changed;  // kept weights whose code differs from the one SEPTQ stored
//
// The output is built by QuantizedCheckpointWriter (quantized_checkpoint_writer.h): nothing
// appears at `out_dir` unless the whole export succeeds, and `out_dir` must not exist or be an
// empty directory. Memory is bounded by one shard and one linear.

#include <cstdint>
#include <string>

#include "ptq/format/loader_support.h"
#include "ptq/format/outlier_merge.h"
#include "ptq/format/quantized_checkpoint.h"

namespace ptq::quant {

// The quantization_config.meta key an export sets: the codes at the kept positions are those of
// the kept values, which are no longer stored.
constexpr const char kMergedOutliersKey[] = "merged_outliers";

struct MergedExport {
  int64_t linears = 0;         // quantized linears repacked
  int64_t merged_linears = 0;  // of them, those that had a side store
  OutlierMerge merge;          // over all linears
  CheckpointTraits traits;     // of the output: which loaders read it
};

// The format of `dir` if it is a SEPTQ checkpoint with at least one side store; throws
// InputError naming the file otherwise (not a directory, no quantization config, another
// method, no side tensors).
QuantizationFormat check_septq_checkpoint(const std::string& dir);

// Writes the export of `septq_dir` to `out_dir` (shards of at most max_shard_bytes, as
// QuantizedCheckpointWriter). Throws InputError naming the file for an input that
// check_septq_checkpoint refuses, a malformed linear or side store, or an output that exists.
MergedExport export_merged_outliers(const std::string& septq_dir,
                                    const std::string& out_dir,
                                    uint64_t max_shard_bytes);

}  // namespace ptq::quant
