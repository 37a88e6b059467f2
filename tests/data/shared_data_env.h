#pragma once
// Points the library's named data sets (and the ptq processes tests start) at the shared data
// beside the checkout, whatever directory the tests run from.

#include <cstdlib>

#include "test_utils.h"

namespace ptq::test {

inline void use_shared_data_dir() {
  setenv("PTQ_DATA_DIR", (shared_dir() / "data").c_str(), /*overwrite=*/1);
}

}  // namespace ptq::test
