#include "io/content_hash.h"

#include <cstdio>
#include <fstream>
#include <vector>

#include "ptq/common/error.h"

namespace ptq::io {
namespace {

constexpr uint64_t kPrime = 0x100000001b3ull;  // FNV's 64-bit prime
constexpr size_t kChunkBytes = size_t{1} << 20;

}  // namespace

uint64_t hash_bytes(const void* data, size_t size, uint64_t seed) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  uint64_t hash = seed;
  size_t at = 0;
  // Words rather than bytes: 8x fewer multiplications on multi-GiB activation files.
  for (; at + 8 <= size; at += 8) {
    uint64_t word = 0;
    for (int b = 0; b < 8; ++b) word |= static_cast<uint64_t>(bytes[at + b]) << (8 * b);
    hash = (hash ^ word) * kPrime;
  }
  for (; at < size; ++at) hash = (hash ^ bytes[at]) * kPrime;
  return hash;
}

uint64_t hash_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  PTQ_CHECK_INPUT(in.good(), "cannot read ", path);
  std::vector<char> chunk(kChunkBytes);
  uint64_t hash = kHashSeed;
  // Chunks are multiples of 8 bytes, so the hash equals hash_bytes over the whole file.
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    hash = hash_bytes(chunk.data(), static_cast<size_t>(in.gcount()), hash);
  }
  PTQ_CHECK_INPUT(in.eof(), "cannot read ", path);
  return hash;
}

std::string hash_hex(uint64_t hash) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

}  // namespace ptq::io
