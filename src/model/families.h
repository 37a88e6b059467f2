#pragma once
// Factories of the model families, one per source file (llama.cpp, opt.cpp, gpt_neox.cpp),
// referenced only by the architecture table in architecture.cpp.

#include <memory>

#include "ptq/model/causal_lm.h"

namespace ptq::model {

std::unique_ptr<CausalLM> create_llama(ModelConfig config,
                                       std::shared_ptr<const io::Checkpoint> checkpoint,
                                       const LoadOptions& options);
std::unique_ptr<CausalLM> create_opt(ModelConfig config,
                                     std::shared_ptr<const io::Checkpoint> checkpoint,
                                     const LoadOptions& options);
std::unique_ptr<CausalLM> create_gpt_neox(ModelConfig config,
                                          std::shared_ptr<const io::Checkpoint> checkpoint,
                                          const LoadOptions& options);

}  // namespace ptq::model
