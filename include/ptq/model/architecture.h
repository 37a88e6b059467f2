#pragma once
// The supported Hugging Face architectures: one explicit table keyed by the name config.json
// lists in "architectures", each entry giving the model family (which selects how the config
// is read), the factory that builds the model from a checkpoint and the family's tensor table
// (ptq/model/tensor_table.h). All entries are
// registered in register_builtin_architectures() (src/model/architecture.cpp).
//
//   const auto& arch = ptq::model::find_architecture("MistralForCausalLM");
//   std::unique_ptr<CausalLM> lm = arch.create(config, checkpoint, options);

#include <memory>
#include <string>

#include "ptq/model/config.h"

namespace ptq::io {
class Checkpoint;
}

namespace ptq::model {

class CausalLM;
struct FamilyTable;
struct LoadOptions;

// Builds a model of one family (keeping `checkpoint` for lazily loaded layers); throws
// InputError for a missing or mis-shaped tensor.
using CausalLMFactory =
    std::unique_ptr<CausalLM> (*)(ModelConfig config,
                                  std::shared_ptr<const io::Checkpoint> checkpoint,
                                  const LoadOptions& options);

struct Architecture {
  std::string name;  // "LlamaForCausalLM"
  ArchFamily family;
  CausalLMFactory create;
  const FamilyTable& (*table)();
};

// Throws InputError naming `name` and listing the supported architectures if unknown.
const Architecture& find_architecture(const std::string& name);

}  // namespace ptq::model
