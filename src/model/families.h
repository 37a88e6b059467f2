#pragma once
// Factories and tensor tables of the model families, one per source file (llama.cpp, opt.cpp,
// gpt_neox.cpp, phi3.cpp, gemma.cpp), referenced only by the architecture table in
// architecture.cpp. The factories are constant-initialized function pointers
// (create_family<Model> from family_helpers.h), so they are set before any code runs; the
// tables are built on first use.

#include "ptq/model/architecture.h"
#include "ptq/model/tensor_table.h"

namespace ptq::model {

extern const CausalLMFactory create_llama;
extern const CausalLMFactory create_opt;
extern const CausalLMFactory create_gpt_neox;
extern const CausalLMFactory create_phi3;
extern const CausalLMFactory create_gemma;

const FamilyTable& llama_table();
const FamilyTable& opt_table();
const FamilyTable& gpt_neox_table();
const FamilyTable& phi3_table();
const FamilyTable& gemma_table();

}  // namespace ptq::model
