#include "methods/ruquant/block_size.h"

#include <algorithm>

#include "ptq/common/error.h"

namespace ptq::methods::ruquant {

int64_t rotation_block_size(int64_t width, int64_t max_block, const std::string& module) {
  for (int64_t b = std::min(width, max_block); b >= 2; --b) {
    if (b % 2 == 0 && width % b == 0) return b;
  }
  PTQ_THROW_INPUT("ruquant: no rotation block for ", module, ": its input width ", width,
                  " has no even divisor <= --block-size ", max_block,
                  " (Givens rotations pair channels, so blocks need an even size)");
}

}  // namespace ptq::methods::ruquant
