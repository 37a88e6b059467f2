// The restricted unpickler on hand-written opcode streams (opcodes as in Python's
// Lib/pickle.py); the torch.save archives themselves are in torch_checkpoint_test.cpp.

#include "io/restricted_unpickler.h"

#include <gtest/gtest.h>

#include "io/io_test_helpers.h"

namespace ptq::test {
namespace {

using namespace std::string_literals;  // "..."s keeps the NUL bytes of the opcode streams

std::vector<std::pair<std::string, io::PickledTensor>> unpickle(const std::string& bytes) {
  return io::unpickle_state_dict(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                 "f.bin");
}

// {"w": _rebuild_tensor_v2(('storage', torch.HalfStorage, 'k', 'cpu', 300), 2, (3, 4),
// (1, 3), False, OrderedDict())}: 300 needs BININT2, the rest BININT1.
const std::string kStateDict =
    "\x80\x02}X\x01\x00\x00\x00w"
    "ctorch._utils\n_rebuild_tensor_v2\n"
    "((X\x07\x00\x00\x00storagectorch\nHalfStorage\n"
    "X\x01\x00\x00\x00kX\x03\x00\x00\x00"
    "cpuM\x2c\x01tQ"
    "K\x02K\x03K\x04\x86K\x01K\x03\x86\x89"
    "ccollections\nOrderedDict\n)RtRs."s;

TEST(RestrictedUnpickler, ReadsATensorEntry) {
  const auto tensors = unpickle(kStateDict);
  ASSERT_EQ(tensors.size(), 1u);
  EXPECT_EQ(tensors[0].first, "w");
  const io::PickledTensor& t = tensors[0].second;
  EXPECT_EQ(t.storage.key, "k");
  EXPECT_EQ(t.storage.dtype, io::DType::F16);
  EXPECT_EQ(t.storage.numel, 300);
  EXPECT_EQ(t.storage_offset, 2);
  EXPECT_EQ(t.shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(t.stride, (std::vector<int64_t>{1, 3}));
}

TEST(RestrictedUnpickler, MalformedStreamsAreInputErrors) {
  expect_input_error([] { unpickle(kStateDict.substr(0, 60)); }, {"f.bin", "truncated pickle"});
  expect_input_error([] { unpickle("\x80\x02h\x05."); }, {"f.bin", "memo entry 5"});
  expect_input_error([] { unpickle("\x80\x02."); }, {"f.bin", "empty stack"});
  expect_input_error([] { unpickle("\x80\x02]."); }, {"f.bin", "holds a list"});
  expect_input_error([] { unpickle("\x80\x02}K\x01K\x02s."); }, {"f.bin", "key 0 is a int"});
  expect_input_error(
      [] {
        unpickle(
            "\x80\x02}X\x01\x00\x00\x00"
            "aK\x02s."s);
      },
      {"f.bin", "entry 'a' is a int, not a tensor"});
  // NEWOBJ (cls.__new__(cls, *args)) builds objects without REDUCE: refused as an opcode.
  expect_input_error(
      [] {
        unpickle(
            "\x80\x02"
            "ccollections\nOrderedDict\n)\x81.");
      },
      {"f.bin", "opcode 0x81 is not accepted"});
  // A storage class is accepted as a name but cannot be called.
  expect_input_error(
      [] {
        unpickle(
            "\x80\x02"
            "ctorch\nFloatStorage\n)R.");
      },
      {"f.bin", "torch.FloatStorage, which is not callable"});
}

}  // namespace
}  // namespace ptq::test
