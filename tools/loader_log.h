#pragma once
// The log lines saying which loaders read a checkpoint ptq wrote (loader_support.h), for
// `ptq quantize` and `ptq export`: the format and quant_method, one line per loader (a warning
// unless it loads), and the linears whose widths only ptq reads.

#include "ptq/format/loader_support.h"

namespace ptq::cli {

void log_loader_support(const quant::CheckpointTraits& traits);

}  // namespace ptq::cli
