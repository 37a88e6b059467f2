#include "ptq/data/python_random.h"

#include <algorithm>

#include "ptq/common/error.h"

namespace ptq::quant {
namespace {

// MT19937 constants (Matsumoto & Nishimura, mt19937ar.c, as vendored in CPython).
constexpr int kShift = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfU;
constexpr uint32_t kUpperMask = 0x80000000U;
constexpr uint32_t kLowerMask = 0x7fffffffU;

int bit_length(uint64_t n) {
  int bits = 0;
  for (; n != 0; n >>= 1) ++bits;
  return bits;
}

}  // namespace

void PythonRandom::init_genrand(uint32_t s) {
  _state[0] = s;
  for (int i = 1; i < kStateSize; ++i) {
    _state[i] = 1812433253U * (_state[i - 1] ^ (_state[i - 1] >> 30)) + static_cast<uint32_t>(i);
  }
  _index = kStateSize;
}

void PythonRandom::init_by_array(const std::vector<uint32_t>& key) {
  init_genrand(19650218U);
  const int key_length = static_cast<int>(key.size());
  int i = 1;
  int j = 0;
  for (int k = std::max(kStateSize, key_length); k > 0; --k) {
    _state[i] = (_state[i] ^ ((_state[i - 1] ^ (_state[i - 1] >> 30)) * 1664525U)) + key[j] +
                static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= kStateSize) {
      _state[0] = _state[kStateSize - 1];
      i = 1;
    }
    if (j >= key_length) j = 0;
  }
  for (int k = kStateSize - 1; k > 0; --k) {
    _state[i] = (_state[i] ^ ((_state[i - 1] ^ (_state[i - 1] >> 30)) * 1566083941U)) -
                static_cast<uint32_t>(i);
    ++i;
    if (i >= kStateSize) {
      _state[0] = _state[kStateSize - 1];
      i = 1;
    }
  }
  _state[0] = 0x80000000U;  // MSB is 1, assuring a non-zero initial array
}

uint32_t PythonRandom::genrand_uint32() {
  static constexpr uint32_t kMag01[2] = {0U, kMatrixA};
  if (_index >= kStateSize) {
    int kk = 0;
    for (; kk < kStateSize - kShift; ++kk) {
      const uint32_t y = (_state[kk] & kUpperMask) | (_state[kk + 1] & kLowerMask);
      _state[kk] = _state[kk + kShift] ^ (y >> 1) ^ kMag01[y & 1U];
    }
    for (; kk < kStateSize - 1; ++kk) {
      const uint32_t y = (_state[kk] & kUpperMask) | (_state[kk + 1] & kLowerMask);
      _state[kk] = _state[kk + (kShift - kStateSize)] ^ (y >> 1) ^ kMag01[y & 1U];
    }
    const uint32_t y = (_state[kStateSize - 1] & kUpperMask) | (_state[0] & kLowerMask);
    _state[kStateSize - 1] = _state[kShift - 1] ^ (y >> 1) ^ kMag01[y & 1U];
    _index = 0;
  }
  uint32_t y = _state[_index++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= (y >> 18);
  return y;
}

void PythonRandom::seed(int64_t seed) {
  // |seed| as an unsigned value so that INT64_MIN is representable.
  const uint64_t magnitude = seed < 0 ? ~static_cast<uint64_t>(seed) + 1 : seed;
  std::vector<uint32_t> key{static_cast<uint32_t>(magnitude)};
  if ((magnitude >> 32) != 0) key.push_back(static_cast<uint32_t>(magnitude >> 32));
  init_by_array(key);
}

double PythonRandom::random() {
  const uint32_t a = genrand_uint32() >> 5;
  const uint32_t b = genrand_uint32() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

uint64_t PythonRandom::getrandbits(int k) {
  PTQ_CHECK_INPUT(k >= 0 && k <= 64, "getrandbits: k=", k, " is outside the supported 0..64");
  if (k <= 32) return k == 0 ? 0 : genrand_uint32() >> (32 - k);
  const uint64_t low = genrand_uint32();
  const uint64_t high = genrand_uint32() >> (64 - k);
  return (high << 32) | low;
}

uint64_t PythonRandom::randbelow(uint64_t n) {
  PTQ_CHECK_INPUT(n >= 1, "randbelow: n must be at least 1");
  const int k = bit_length(n);
  uint64_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return r;
}

int64_t PythonRandom::randint(int64_t a, int64_t b) {
  PTQ_CHECK_INPUT(a <= b, "randint: empty range (", a, ", ", b, ")");
  const uint64_t width = static_cast<uint64_t>(b) - static_cast<uint64_t>(a) + 1;
  PTQ_CHECK_INPUT(width != 0, "randint: range (", a, ", ", b, ") is wider than 64 bits");
  return static_cast<int64_t>(static_cast<uint64_t>(a) + randbelow(width));
}

}  // namespace ptq::quant
