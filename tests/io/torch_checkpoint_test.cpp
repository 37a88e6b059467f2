// The torch.save reader on archives written by Debian's python3-torch and on crafted ones
// (tests/reference/make_torch_bin_fixtures.py).

#include "io/torch_checkpoint.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "io/io_test_helpers.h"
#include "ptq/io/safetensors.h"
#include "test_utils.h"

namespace ptq::test {
namespace {

namespace fs = std::filesystem;
using io::TorchCheckpointReader;

fs::path torch_bin_dir() { return fixtures_dir() / "torch_bin"; }

// Views saved as views (a transpose, a narrow at a storage offset, two tensors sharing one
// storage, an nn.Parameter, several dtypes) read back as the contiguous tensors Python's
// torch holds, which make_torch_bin_fixtures.py also wrote as safetensors.
TEST(TorchCheckpoint, ViewsReadAsTheirContiguousValues) {
  const TorchCheckpointReader reader((torch_bin_dir() / "views.bin").string());
  const io::SafetensorsReader want((torch_bin_dir() / "views.safetensors").string());
  ASSERT_EQ(reader.names(), want.names());
  for (const std::string& name : want.names()) {
    SCOPED_TRACE(name);
    const at::Tensor got = reader.tensor(name);
    EXPECT_TRUE(got.is_contiguous());
    EXPECT_EQ(got.scalar_type(), want.tensor(name).scalar_type());
    EXPECT_TRUE(at::equal(got, want.tensor(name)));
    EXPECT_EQ(reader.entry(name).dtype, want.entry(name).dtype);
    EXPECT_EQ(reader.entry(name).shape, want.entry(name).shape);
  }
  // "narrowed" is elements 8..19 of a 40-float storage: 12 floats at byte 32 of the record.
  const io::TensorEntry& narrowed = reader.entry("narrowed");
  EXPECT_EQ(narrowed.data_end - narrowed.data_begin, 12u * 4u);
  EXPECT_EQ(narrowed.data_begin - reader.entry("shared_a").data_begin, 8u * 4u);
  expect_input_error([&] { reader.tensor("nope"); }, {"nope", "views.bin"});
}

// torch.save aligns storages to 64 bytes, so contiguous tensors are views of the mapping:
// two reads of one tensor share their memory, which two copies would not.
TEST(TorchCheckpoint, ContiguousTensorsAreViewsOfTheFile) {
  const TorchCheckpointReader reader((torch_bin_dir() / "llama" / "pytorch_model.bin").string());
  const std::string name = "model.embed_tokens.weight";
  EXPECT_EQ(reader.entry(name).data_begin % 64, 0u);
  const at::Tensor first = reader.tensor(name);
  const at::Tensor second = reader.tensor(name);
  EXPECT_EQ(first.data_ptr(), second.data_ptr());
  // A transposed tensor is copied to be contiguous: each read has its own memory.
  const TorchCheckpointReader views((torch_bin_dir() / "views.bin").string());
  EXPECT_NE(views.tensor("transposed").data_ptr(), views.tensor("transposed").data_ptr());
}

TEST(TorchCheckpoint, RefusesMaliciousPicklesWithoutRunningThem) {
  const fs::path marker = torch_bin_dir() / "PWNED";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"os_system", "'os.system'"},
      {"builtins_eval", "'builtins.eval'"},
      {"posix_system_stack_global", "'posix.system'"},
      {"subprocess_in_state_dict", "'subprocess.call'"},
      {"inst_os_system", "'os.system'"}};
  for (const auto& [name, global] : cases) {
    SCOPED_TRACE(name);
    const std::string path = (torch_bin_dir() / "malicious" / (name + ".bin")).string();
    expect_input_error([&] { TorchCheckpointReader reader(path); },
                       {path, "refused to load", global, "nothing in the file was run"});
    EXPECT_FALSE(fs::exists(marker));
  }
}

TEST(TorchCheckpoint, TensorsThatDoNotFitTheirStorageAreNamed) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"tensor_past_storage",
       {"tensor 'w'", "shape [2, 3] stride [3, 1]", "reaches element 5", "has 4 elements"}},
      {"offset_past_storage", {"tensor 'w'", "storage offset 2", "reaches element 4"}},
      {"short_storage_record",
       {"tensor 'w'", "'archive/data/0' holds 16 bytes", "declares 8 elements of F32"}},
      {"missing_storage_record", {"tensor 'w'", "'archive/data/7' is missing"}},
      {"negative_stride", {"tensor 'w'", "invalid shape [4] stride [-1]"}},
      {"expanded", {"tensor 'w'", "has 1099511627776 elements", "overlap"}},
      {"compressed", {"'archive/data", "is compressed (method 8)"}}};
  for (const auto& [name, parts] : cases) {
    SCOPED_TRACE(name);
    const std::string path = (torch_bin_dir() / "crafted" / (name + ".bin")).string();
    std::vector<std::string> expected = parts;
    expected.push_back(path);
    expect_input_error([&] { TorchCheckpointReader reader(path); }, expected);
  }
}

TEST(TorchCheckpoint, TruncatedOrCorruptArchivesAreInputErrors) {
  TempDir dir;
  const std::string bytes = read_file(torch_bin_dir() / "views.bin");
  const std::string path = (dir / "pytorch_model.bin").string();
  // Cut inside the central directory, inside the data, and inside the first local header.
  for (const std::size_t size : {bytes.size() - 30, bytes.size() / 2, std::size_t{10}}) {
    SCOPED_TRACE(size);
    write_file(path, bytes.substr(0, size));
    expect_input_error([&] { TorchCheckpointReader reader(path); }, {path, "zip archive"});
  }
  // The central directory's offset pointing past the end of the file.
  std::string corrupt = bytes;
  const std::size_t end = corrupt.rfind(std::string("PK\x05\x06", 4));
  ASSERT_NE(end, std::string::npos);
  corrupt[end + 19] = '\x7f';
  write_file(path, corrupt);
  expect_input_error([&] { TorchCheckpointReader reader(path); },
                     {path, "corrupt zip archive", "central directory"});
}

TEST(TorchCheckpoint, LegacyFormatIsRefusedByName) {
  TempDir dir;
  const std::string path = (dir / "pytorch_model.bin").string();
  // The legacy format starts with a protocol-2 pickle of torch's magic number.
  write_file(path, std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15));
  expect_input_error([&] { TorchCheckpointReader reader(path); }, {path, "legacy torch.save"});
  write_file(path, "hello");
  expect_input_error([&] { TorchCheckpointReader reader(path); }, {path, "not a torch.save zip"});
}

}  // namespace
}  // namespace ptq::test
