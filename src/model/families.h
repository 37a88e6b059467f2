#pragma once
// Factories of the model families, one per source file (llama.cpp, opt.cpp, gpt_neox.cpp),
// referenced only by the architecture table in architecture.cpp. They are constant-initialized
// function pointers (create_family<Model> from family_helpers.h), so they are set before any
// code runs.

#include "ptq/model/architecture.h"

namespace ptq::model {

extern const CausalLMFactory create_llama;
extern const CausalLMFactory create_opt;
extern const CausalLMFactory create_gpt_neox;

}  // namespace ptq::model
