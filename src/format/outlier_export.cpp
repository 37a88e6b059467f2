#include "ptq/format/outlier_export.h"

#include <filesystem>
#include <optional>
#include <set>
#include <vector>

#include "ptq/common/error.h"
#include "ptq/format/quantized_checkpoint_writer.h"
#include "ptq/io/checkpoint.h"

namespace ptq::quant {
namespace {

namespace fs = std::filesystem;

constexpr const char kReadsWhat[] =
    "ptq export --merge-outliers reads a directory written by ptq quantize --method septq";

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() > suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "<module>" of every "<module><suffix>" in the checkpoint.
std::set<std::string> modules_with(const io::Checkpoint& checkpoint, const std::string& suffix) {
  std::set<std::string> modules;
  for (const std::string& name : checkpoint.names()) {
    if (ends_with(name, suffix)) modules.insert(name.substr(0, name.size() - suffix.size()));
  }
  return modules;
}

std::set<std::string> modules_with_side_store(const io::Checkpoint& checkpoint) {
  std::set<std::string> modules = modules_with(checkpoint, std::string(".") + kOutlierIndexSuffix);
  for (const std::string& module :
       modules_with(checkpoint, std::string(".") + kOutlierValueSuffix)) {
    modules.insert(module);
  }
  return modules;
}

// One linear: unpacked, its side store (if any) merged into the codes, handed to `writer`;
// what the merge changed, nothing for a linear without a side store.
std::optional<OutlierMerge> export_linear(const io::Checkpoint& source,
                                          const std::string& module,
                                          const QuantizationFormat& format,
                                          QuantizedCheckpointWriter& writer) {
  const std::string where = "quantized linear '" + module + "' in " + source.dir();
  QuantizedWeight weight;
  try {
    weight = unpack_gptq(load_packed_weight(source, module), format.bits, format.checkpoint_format);
  } catch (const InputError& e) {
    PTQ_THROW_INPUT(where, ": ", e.what());
  }
  std::optional<OutlierMerge> merge;
  if (const std::optional<OutlierStore> store = load_outlier_store(source, module)) {
    check_outlier_store(*store, weight.codes.size(0), weight.codes.size(1), where);
    merge = merge_outlier_store(weight, *store, format.bits, where);
    writer.omit_source_tensor(module + "." + kOutlierIndexSuffix);
    writer.omit_source_tensor(module + "." + kOutlierValueSuffix);
  }
  // The bias, if any, is copied from the source as stored.
  writer.add_quantized_linear(module, weight, at::Tensor());
  return merge;
}

}  // namespace

QuantizationFormat check_septq_checkpoint(const std::string& dir) {
  std::error_code error;
  PTQ_CHECK_INPUT(fs::is_directory(dir, error), dir, " is not a directory: ", kReadsWhat);
  const std::optional<QuantizationFormat> format = find_quantization_format(dir);
  const std::string config = (fs::path(dir) / "config.json").string();
  PTQ_CHECK_INPUT(format.has_value(), config,
                  " has no quantization_config (nor does the directory hold a "
                  "quantize_config.json): not a quantized checkpoint; ",
                  kReadsWhat);
  PTQ_CHECK_INPUT(format->method == "septq", config, ": quantization_config.meta.method is \"",
                  format->method,
                  "\", not \"septq\": only a SEPTQ checkpoint has kept weights to "
                  "merge; ",
                  kReadsWhat);
  const io::Checkpoint checkpoint(dir);
  const bool merged = format->method_fields.value(kMergedOutliersKey, false);
  PTQ_CHECK_INPUT(!modules_with_side_store(checkpoint).empty(), dir,
                  " holds no side tensors (<linear>.", kOutlierIndexSuffix, " / .",
                  kOutlierValueSuffix, "): ",
                  merged ? "its outliers were merged already (config.json: meta.merged_outliers)"
                         : "written with --keep-percent 0",
                  ", so it is a plain GPTQ checkpoint already and there is nothing to merge");
  return *format;
}

MergedExport export_merged_outliers(const std::string& septq_dir,
                                    const std::string& out_dir,
                                    uint64_t max_shard_bytes) {
  const QuantizationFormat input = check_septq_checkpoint(septq_dir);
  const io::Checkpoint source(septq_dir);
  const std::set<std::string> linears = modules_with(source, ".qweight");
  for (const std::string& module : modules_with_side_store(source)) {
    PTQ_CHECK_INPUT(linears.count(module) > 0, "'", module, ".", kOutlierIndexSuffix, "' in ",
                    septq_dir, " belongs to no quantized linear (there is no '", module,
                    ".qweight')");
  }
  QuantizationFormat output = input;
  output.method_fields[kMergedOutliersKey] = true;
  // Claims out_dir (it must not exist or be empty) before any linear is read.
  QuantizedCheckpointWriter writer(septq_dir, out_dir, output, max_shard_bytes);
  MergedExport result;
  for (const std::string& module : linears) {
    const std::optional<OutlierMerge> merge = export_linear(source, module, input, writer);
    ++result.linears;
    if (!merge) continue;
    ++result.merged_linears;
    result.merge.kept += merge->kept;
    result.merge.changed += merge->changed;
  }
  writer.finish();
  result.traits = writer.traits();
  return result;
}

}  // namespace ptq::quant
