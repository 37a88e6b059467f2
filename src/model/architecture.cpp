#include "ptq/model/architecture.h"

#include <algorithm>
#include <vector>

#include "model/families.h"
#include "ptq/common/error.h"
#include "ptq/model/causal_lm.h"

namespace ptq::model {
namespace {

// Every supported architecture, in one place. Mistral, Qwen2 and Qwen3 are LLaMA-family
// models whose differences (sliding window, q/k/v bias, q/k norms) are read from config.json.
std::vector<Architecture> register_builtin_architectures() {
  return {
      {"GPTNeoXForCausalLM", ArchFamily::GptNeoX, create_gpt_neox, gpt_neox_table},
      {"Gemma2ForCausalLM", ArchFamily::Gemma, create_gemma, gemma_table},
      {"Gemma3ForCausalLM", ArchFamily::Gemma, create_gemma, gemma_table},
      {"LlamaForCausalLM", ArchFamily::Llama, create_llama, llama_table},
      {"MistralForCausalLM", ArchFamily::Llama, create_llama, llama_table},
      {"OPTForCausalLM", ArchFamily::Opt, create_opt, opt_table},
      {"Phi3ForCausalLM", ArchFamily::Llama, create_phi3, phi3_table},
      {"Qwen2ForCausalLM", ArchFamily::Llama, create_llama, llama_table},
      {"Qwen3ForCausalLM", ArchFamily::Llama, create_llama, llama_table},
  };
}

const std::vector<Architecture>& registry() {
  static const std::vector<Architecture> table = register_builtin_architectures();
  return table;
}

}  // namespace

const Architecture& find_architecture(const std::string& name) {
  for (const Architecture& arch : registry()) {
    if (arch.name == name) return arch;
  }
  std::string supported;
  for (const std::string& known : supported_architectures()) {
    supported += (supported.empty() ? "" : ", ") + known;
  }
  PTQ_THROW_INPUT("unsupported architecture '", name, "'; supported: ", supported);
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> names;
  for (const Architecture& arch : registry()) names.push_back(arch.name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace ptq::model
