// ptq export: rewrites a checkpoint ptq wrote for loaders that cannot serve it as it is.
//
//   ptq export --merge-outliers --model out/septq-w3 --out out/septq-w3-gptq
//
// --merge-outliers: the nearest plain GPTQ checkpoint of a SEPTQ one (docs/format.md,
// "SEPTQ: sparse full-precision weights"; src/format/outlier_export.cpp).

#include <memory>
#include <string>

#include "command.h"
#include "loader_log.h"
#include "ptq/common/error.h"
#include "ptq/common/logging.h"
#include "ptq/common/printable.h"
#include "ptq/format/outlier_export.h"
#include "shard_size.h"

namespace ptq::cli {
namespace {

struct ExportOptions {
  bool merge_outliers = false;
  std::string model;
  std::string out;
  std::string max_shard_size = "2GB";
};

int run_export(const ExportOptions& options) {
  const uint64_t shard_bytes = parse_size(options.max_shard_size);
  spdlog::info("merging the kept weights of {} into their grids", printable(options.model));
  const quant::MergedExport e =
      quant::export_merged_outliers(options.model, options.out, shard_bytes);
  spdlog::info(
      "{} kept weights in {} of {} quantized linears replaced by the nearest point of "
      "their grids ({} codes changed; the others already held that code)",
      e.merge.kept, e.merged_linears, e.linears, e.merge.changed);
  log_loader_support(e.traits);
  spdlog::info("wrote {}", printable(options.out));
  return kExitOk;
}

}  // namespace

Command add_export_command(CLI::App& parent) {
  auto options = std::make_shared<ExportOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "export",
      "Rewrite a checkpoint ptq wrote for other loaders; --merge-outliers: the nearest plain "
      "GPTQ checkpoint of a SEPTQ one (each kept weight replaced by the nearest point of its "
      "grid, side tensors dropped)");
  CLI::App& app = *command.app;
  app.add_flag("--merge-outliers", options->merge_outliers,
               "Replace SEPTQ's kept fp16 weights by the nearest point of their grids and drop "
               "the side tensors (outlier_idx/outlier_val)")
      ->required();
  app.add_option("--model", options->model, "SEPTQ checkpoint directory (ptq quantize output)")
      ->required();
  app.add_option("--out", options->out, "Output directory (must not exist or be empty)")
      ->required();
  app.add_option("--max-shard-size", options->max_shard_size, "Shard size, e.g. 2GB, 500MiB")
      ->capture_default_str();
  command.run = [options] { return run_export(*options); };
  return command;
}

}  // namespace ptq::cli
