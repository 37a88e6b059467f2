#include "ptq/model/tensor_table.h"

#include <stdexcept>

#include "ptq/model/architecture.h"

namespace ptq::model {
namespace {

bool is_present(const TensorRow& row, const ModelConfig& config) {
  return row.present == nullptr || row.present(config);
}

void add_specs(std::vector<TensorSpec>& specs,
               const std::vector<TensorRow>& rows,
               const ModelConfig& config,
               const std::string& prefix) {
  for (const TensorRow& row : rows) {
    if (!is_present(row, config)) continue;
    const std::string module = prefix + row.module;
    const std::vector<int64_t> shape = row.shape(config);
    specs.push_back({module + ".weight", shape});
    if (row.bias != nullptr && row.bias(config)) specs.push_back({module + ".bias", {shape[0]}});
  }
}

}  // namespace

const TensorRow& FamilyTable::row(TensorRole role) const {
  for (const auto* rows : {&layer, &global}) {
    for (const TensorRow& r : *rows) {
      if (r.role == role) return r;
    }
  }
  throw std::logic_error("the family of " + layers_prefix + " has no row of role " +
                         std::to_string(static_cast<int>(role)));
}

std::string FamilyTable::layer_prefix(int64_t index) const {
  return layers_prefix + std::to_string(index) + ".";
}

std::vector<TensorSpec> global_specs(const FamilyTable& table, const ModelConfig& config) {
  std::vector<TensorSpec> specs;
  add_specs(specs, table.global, config, "");
  return specs;
}

std::vector<TensorSpec> layer_specs(const FamilyTable& table,
                                    const ModelConfig& config,
                                    int64_t index) {
  std::vector<TensorSpec> specs;
  add_specs(specs, table.layer, config, table.layer_prefix(index));
  return specs;
}

std::vector<LayerLinear> layer_linears(const FamilyTable& table,
                                       const ModelConfig& config,
                                       int64_t index) {
  const std::string prefix = table.layer_prefix(index);
  std::vector<LayerLinear> linears;
  for (const TensorRow& row : table.layer) {
    if (row.kind != TensorKind::Linear || !is_present(row, config)) continue;
    linears.push_back({prefix + row.module, row.role, row.stage, row.input});
  }
  return linears;
}

std::vector<TensorSpec> checkpoint_specs(const ModelConfig& config) {
  const FamilyTable& table = find_architecture(config.architecture).table();
  std::vector<TensorSpec> specs = global_specs(table, config);
  for (int64_t i = 0; i < config.num_layers; ++i) {
    for (TensorSpec& spec : layer_specs(table, config, i)) specs.push_back(std::move(spec));
  }
  return specs;
}

bool is_attention_input(TensorRole role) {
  return role == TensorRole::AttnQ || role == TensorRole::AttnK || role == TensorRole::AttnV ||
         role == TensorRole::AttnQkv;
}

}  // namespace ptq::model
