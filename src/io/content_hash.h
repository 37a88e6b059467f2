#pragma once
// A fast 64-bit content hash (FNV-1a over little-endian 64-bit words, the tail byte by byte):
// detects truncated or altered files and tells inputs apart; not cryptographic.
//
//   uint64_t h = hash_bytes(data, size);
//   std::string hex = hash_hex(hash_file("checkpoint/layer-00003.safetensors"));

#include <cstddef>
#include <cstdint>
#include <string>

namespace ptq::io {

constexpr uint64_t kHashSeed = 0xcbf29ce484222325ull;  // FNV-1a's 64-bit offset basis

// Continues `seed` (a previous hash) over `size` bytes at `data`.
uint64_t hash_bytes(const void* data, size_t size, uint64_t seed = kHashSeed);
// The hash of the file's bytes, read in chunks; throws InputError naming an unreadable file.
uint64_t hash_file(const std::string& path);
// 16 lowercase hex digits.
std::string hash_hex(uint64_t hash);

}  // namespace ptq::io
