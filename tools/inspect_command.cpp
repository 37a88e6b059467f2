// ptq inspect: what a checkpoint holds (architecture, dtypes, parameters, tensor shapes, size
// on disk) and how a quantized one is stored (method, bits, kept weights, effective bits per
// weight), from the headers only.

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "command.h"
#include "ptq/common/error.h"
#include "ptq/common/printable.h"
#include "ptq/format/checkpoint_summary.h"
#include "ptq/format/loader_support.h"

namespace ptq::cli {
namespace {

struct InspectOptions {
  std::string path;
  bool json = false;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string format_name(const std::string& format) {
  if (format == "huggingface") return "Hugging Face model directory";
  if (format == "llama2c") return "llama2.c checkpoint";
  return "safetensors file";
}

void print_architecture(const model::ModelConfig& c) {
  std::printf(
      "architecture  %s (%s): %lld layers, hidden %lld, intermediate %lld, %lld heads (%lld "
      "key/value) of %lld, vocab %lld, %lld positions%s\n",
      printable(c.architecture).c_str(), printable(c.model_type).c_str(),
      static_cast<long long>(c.num_layers), static_cast<long long>(c.hidden_size),
      static_cast<long long>(c.intermediate_size), static_cast<long long>(c.num_heads),
      static_cast<long long>(c.num_kv_heads), static_cast<long long>(c.head_dim),
      static_cast<long long>(c.vocab_size), static_cast<long long>(c.max_position_embeddings),
      c.tie_word_embeddings ? ", tied embeddings" : "");
}

std::string padded(std::string text, size_t width) {
  if (text.size() < width) text.resize(width, ' ');
  return text;
}

void print_tensors(const quant::CheckpointSummary& s) {
  const std::vector<quant::TensorKind> kinds = quant::tensor_kinds(s.tensors);
  size_t name_width = 0;
  size_t shape_width = 0;
  for (const quant::TensorKind& kind : kinds) {
    name_width = std::max(name_width, printable(kind.first.name).size());
    shape_width = std::max(shape_width, shape_text(kind.first.shape).size());
  }
  std::printf("tensors       %zu (a tensor of layer 0 \"x N layers\" stands for N alike)\n",
              s.tensors.size());
  for (const quant::TensorKind& kind : kinds) {
    const std::string shape = shape_text(kind.first.shape);
    const std::string line = "  " + padded(printable(kind.first.name), name_width) + "  " +
                             padded(io::dtype_name(kind.first.dtype), 4) + "  " +
                             (kind.layers > 0 ? padded(shape, shape_width) + "  x " +
                                                    std::to_string(kind.layers) + " layers"
                                              : shape);
    std::printf("%s\n", line.c_str());
  }
}

void print_quantization(const quant::CheckpointSummary& s) {
  const quant::QuantizationSummary& q = *s.quantization;
  const quant::StorageBits& b = q.storage;
  const double w = static_cast<double>(b.weights);
  std::printf("quantization  %s, %d bits, group size %d%s, activations %s\n",
              printable(q.format.method).c_str(), q.format.bits, q.format.group_size,
              q.format.group_size == -1 ? " (per output channel)" : "",
              q.format.activations.enabled()
                  ? (std::to_string(q.format.activations.bits) + " bits per token").c_str()
                  : "not quantized");
  std::printf("  quantized linears  %lld (%lld weights)\n", static_cast<long long>(q.linears),
              static_cast<long long>(b.weights));
  for (const quant::DynamicRule& rule : q.format.dynamic) {
    std::printf("  dynamic            %s: %s\n", printable(rule.key).c_str(),
                printable(rule.overrides.dump()).c_str());
  }
  std::printf("  kept weights       %lld (%.3f %%)\n", static_cast<long long>(q.kept_weights),
              q.kept_percent());
  std::printf(
      "  bits per weight    %.4f = codes %.4f + grids %.4f + g_idx %.4f + side store %.4f\n",
      b.per_weight(), b.codes / w, b.grids / w, b.g_idx / w, b.extra / w);
  std::printf("  size on disk       %llu bytes = %.4f x the fp16 original (%llu bytes)\n",
              static_cast<unsigned long long>(s.file_bytes),
              static_cast<double>(s.file_bytes) / static_cast<double>(s.fp16_bytes()),
              static_cast<unsigned long long>(s.fp16_bytes()));
}

// Which loaders serve the checkpoint (loader_support.h), before the quantization block so that
// its storage lines stay last.
void print_loaders(const quant::QuantizationSummary& q) {
  std::printf("format        %s, quant_method %s\n",
              quant::checkpoint_format_name(q.format.checkpoint_format),
              quant::gptq_loader_bits(q.format) ? "gptq" : "ptq");
  for (const quant::LoaderSupport& s : quant::loader_support(q.traits())) {
    std::printf("  %-13s %s%s%s\n", s.loader.c_str(), quant::verdict_name(s.verdict),
                s.why.empty() ? "" : ": ", printable(s.why).c_str());
  }
  if (!q.unaligned_linears.empty()) {
    std::printf("  readable by ptq only: %zu linears have a width not a multiple of 32\n",
                q.unaligned_linears.size());
  }
  if (q.kept_weights > 0) {
    std::printf(
        "  kept weights served by ptq only; ptq export --merge-outliers writes the "
        "nearest plain GPTQ checkpoint\n");
  }
}

void print_summary(const quant::CheckpointSummary& s) {
  std::printf("%s: %s\n", printable(s.path).c_str(), format_name(s.format).c_str());
  if (s.config) print_architecture(*s.config);
  std::printf("parameters    %lld\n", static_cast<long long>(s.parameters));
  std::string dtypes;
  for (const auto& [dtype, bytes] : s.bytes_by_dtype()) {
    dtypes += (dtypes.empty() ? "" : ", ") + dtype + " " + std::to_string(bytes) + " bytes";
  }
  std::printf("dtypes        %s\n", dtypes.c_str());
  std::printf("size on disk  %llu bytes in %zu file%s (fp16: %llu bytes)\n",
              static_cast<unsigned long long>(s.file_bytes), s.files.size(),
              s.files.size() == 1 ? "" : "s", static_cast<unsigned long long>(s.fp16_bytes()));
  print_tensors(s);
  if (s.quantization) {
    print_loaders(*s.quantization);
    print_quantization(s);
  }
}

int run_inspect(const InspectOptions& options) {
  const quant::CheckpointSummary summary = quant::summarize_checkpoint(options.path);
  if (options.json) {
    // JSON escapes control characters; bytes that are not UTF-8 become U+FFFD.
    const std::string text = quant::checkpoint_summary_json(summary).dump(
        2, ' ', false, nlohmann::json::error_handler_t::replace);
    std::printf("%s\n", text.c_str());
  } else {
    print_summary(summary);
  }
  return kExitOk;
}

}  // namespace

Command add_inspect_command(CLI::App& parent) {
  auto options = std::make_shared<InspectOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "inspect",
      "What a checkpoint holds, from its headers: architecture, dtypes, parameters, tensor "
      "shapes, size on disk; for a quantized one: method, bits, group size, kept weights, "
      "effective bits per weight, size vs fp16");
  CLI::App& app = *command.app;
  app.add_option("PATH", options->path,
                 "Model directory, .safetensors file or llama2.c .bin checkpoint")
      ->required();
  app.add_flag("--json", options->json, "Print JSON with every tensor instead of the summary");
  command.run = [options] { return run_inspect(*options); };
  return command;
}

}  // namespace ptq::cli
