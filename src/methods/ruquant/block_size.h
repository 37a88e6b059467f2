#pragma once
// RUQuant's rotation block per linear: Givens rotations pair channels, so a block has an even
// size B dividing the linear's input width; --block-size is the largest B allowed.

#include <cstdint>
#include <string>

namespace ptq::methods::ruquant {

// The largest even divisor of `width` not above `max_block` (stories260K with 128: widths 64
// and 172 give 64 and 86). Throws InputError naming `module`, the width and --block-size when
// there is none (an odd width, or max_block < 2).
int64_t rotation_block_size(int64_t width, int64_t max_block, const std::string& module);

}  // namespace ptq::methods::ruquant
