#pragma once
// A bit-exact port of CPython's `random` module (Lib/random.py + Modules/_randommodule.c) for
// the calls GPTQ's calibration sampling makes: seed(int), random(), getrandbits(k),
// randint(a, b) and shuffle. Reproducing `random.seed(0); random.randint(0, n - seqlen - 1)`
// (docs/eval-protocol.md) picks the same calibration windows as the Python
// reference implementations.

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ptq::quant {

class PythonRandom {
 public:
  explicit PythonRandom(int64_t seed = 0) { this->seed(seed); }

  // random.seed(n) for an int n: MT19937 init_by_array over the 32-bit little-endian chunks of
  // |n| (a single zero chunk for n == 0).
  void seed(int64_t seed);
  // random.random(): 53 random bits from two draws, (a >> 5, b >> 6) -> (a * 2^26 + b) / 2^53.
  double random();
  // random.getrandbits(k) for 0 <= k <= 64; words are drawn least significant first and the
  // last (most significant) word keeps the top k % 32 bits of its draw, as CPython does.
  uint64_t getrandbits(int k);
  // random.randint(a, b) = a + _randbelow(b - a + 1), for a <= b.
  int64_t randint(int64_t a, int64_t b);
  // random._randbelow(n) for n >= 1: rejection sampling with k = n.bit_length() bits.
  uint64_t randbelow(uint64_t n);

  // random.shuffle(x): Fisher-Yates from the back, j = _randbelow(i + 1).
  template <typename T>
  void shuffle(std::vector<T>& values) {
    for (std::size_t i = values.size(); i-- > 1;) {
      std::swap(values[i], values[randbelow(i + 1)]);
    }
  }

 private:
  static constexpr int kStateSize = 624;

  void init_genrand(uint32_t s);
  void init_by_array(const std::vector<uint32_t>& key);
  uint32_t genrand_uint32();

  std::array<uint32_t, kStateSize> _state{};
  int _index = kStateSize + 1;
};

}  // namespace ptq::quant
