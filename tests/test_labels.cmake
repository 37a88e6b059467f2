# CTest labels of the C++ tests (README.md, "Tests"):
#   unit   no Python fixtures, no ../shared data, no ptq binary: `ctest -L unit` runs in
#          seconds on a fresh build.
#   model  reads the fixtures tests/reference/ generates or ../shared models and data.
#   cli    runs the ptq binary end to end (tests/cli/).
#   slow   the tests that take over ~10 s, in addition to model or cli.
# A suite belongs to one file; the files below are the unit ones, every other file under tests/
# is model, except tests/cli/.

set(PTQ_UNIT_TEST_SOURCES
  common/error_test.cpp common/printable_test.cpp common/progress_test.cpp
  eval/generate_test.cpp eval/perplexity_test.cpp eval/streamed_perplexity_test.cpp
  eval/zeroshot_tasks_test.cpp
  io/restricted_unpickler_test.cpp io/safetensors_test.cpp
  methods/methods_test.cpp methods/septq_test.cpp
  model/attention_test.cpp model/rotary_test.cpp model/streamed_layer_test.cpp
  quant/activation_quantizer_test.cpp quant/gptq_test.cpp format/loader_support_test.cpp
  format/outlier_export_test.cpp format/outlier_merge_test.cpp data/python_random_test.cpp
  quant/relative_error_test.cpp pipeline/resume_checkpoint_test.cpp format/storage_bits_test.cpp
  quant/grid_error_estimate_test.cpp quant/triangular_inverse_test.cpp
  quant/uniform_quantizer_test.cpp
  report/markdown_table_test.cpp report/perplexity_plot_test.cpp report/run_reports_test.cpp
  tokenizer/byte_level_test.cpp tokenizer/pair_merge_test.cpp tokenizer/regex_splitter_test.cpp)

# Over ~10 s each (model or cli besides).
set(PTQ_SLOW_MODEL_TESTS
  Pipeline/SeptqBeatsGptqOnStories260K.*
  RuquantStage2.TuningLowersTheLayerOutputErrorOnStories260K
  KlBaseLogits.RtnMeanKldIsTheLogPerplexityRatioWithinItsStandardError
  LazyLoadingTest.StreamsModelThreeTimesLargerThanMemoryLimit)
set(PTQ_SLOW_CLI_TESTS
  QuantizeMemory.GptqStreamsAModelThreeTimesLargerThanTheMemoryLimit
  EvalMemory.StreamsAModelThreeTimesLargerThanTheMemoryLimit
  ReadmeWalkthrough.*
  QuantizeCommand.RuquantCheckpointReproducesTheInMemoryModel
  QuantizeCommand.RuquantStage2IsReadBackAndReproducible
  QuantizeCommand.WritesAGptqDirectoryAndReport
  QuantizeCommand.RejectsBadInputWithExitCode2
  QuantizeCommand.AttentionQuantizationIsStoredAndHonouredByEval
  QuantizeCommand.RecipeValuesUnlessTheCommandLineGivesThem
  QuantizeCommand.ResumeRefusesAnotherRunsCheckpoint
  QuantizeCommand.ActivationBitsAreStoredAndHonouredByEval
  EvalCommand.ConvertedStories260KMatchesReferencePerplexity
  EvalCommand.HuggingFaceStories260KMatchesReferencePerplexity
  InputFaults.SecondRunToTheSameOutputIsRefusedNamingTheFirst
  InputFaults.ResumeRemovesTheStagingOfAKilledRun)

# The suites the test files `sources` (relative to tests/) define.
function(ptq_suites out)
  set(suites)
  foreach(source IN LISTS ARGN)
    file(STRINGS ${CMAKE_CURRENT_SOURCE_DIR}/${source} lines
      REGEX "^(TEST|TEST_F|TEST_P|TYPED_TEST)\\( *[A-Za-z0-9_]+")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[A-Z_]+\\( *([A-Za-z0-9_]+).*" "\\1" suite "${line}")
      list(APPEND suites ${suite})
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES suites)
  set(${out} ${suites} PARENT_SCOPE)
endfunction()

# A unit suite must not also be defined by a file that needs fixtures: it would run without them.
file(GLOB_RECURSE PTQ_OTHER_TEST_SOURCES RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}
  ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp)
list(REMOVE_ITEM PTQ_OTHER_TEST_SOURCES ${PTQ_UNIT_TEST_SOURCES})
ptq_suites(PTQ_UNIT_SUITES ${PTQ_UNIT_TEST_SOURCES})
ptq_suites(PTQ_OTHER_SUITES ${PTQ_OTHER_TEST_SOURCES})
foreach(suite IN LISTS PTQ_UNIT_SUITES)
  if(suite IN_LIST PTQ_OTHER_SUITES)
    message(FATAL_ERROR "test suite ${suite} is defined in a unit test file "
      "(tests/test_labels.cmake) and in another test file: give one of them another name")
  endif()
endforeach()

# What tests/cmake/PtqTestGroups.cmake labels by: unit and cli suites, and the slow cases
# (patterns "Suite.Case", "Suite.*"; "Prefix/Suite" for TEST_P instantiations).
file(GLOB PTQ_CLI_TEST_SOURCES RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}
  ${CMAKE_CURRENT_SOURCE_DIR}/cli/*_test.cpp)
ptq_suites(PTQ_CLI_SUITES ${PTQ_CLI_TEST_SOURCES})
set(PTQ_SLOW_TESTS ${PTQ_SLOW_MODEL_TESTS} ${PTQ_SLOW_CLI_TESTS})
