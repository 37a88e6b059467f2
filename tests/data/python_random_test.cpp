#include "ptq/data/python_random.h"

#include <gtest/gtest.h>

#include <vector>

#include "ptq/common/error.h"

namespace ptq::quant {
namespace {

// Every expected value below was printed by CPython 3.11.2's random module (/usr/bin/python3).

TEST(PythonRandom, RandintMatchesCPythonSeed0) {
  // random.seed(0); [random.randint(0, 10**6) for _ in range(10)]
  const std::vector<int64_t> expected = {885440, 403958, 794772, 933488, 441001,
                                         42450,  271493, 536110, 509532, 424604};
  PythonRandom rng(0);
  for (int64_t value : expected) EXPECT_EQ(rng.randint(0, 1000000), value);
}

TEST(PythonRandom, CalibrationWindowStartsMatchCPython) {
  // random.seed(0); [random.randint(0, 287644 - 2048 - 1) for _ in range(8)]
  const std::vector<int64_t> expected = {201979, 220500, 21225,  135746,
                                         268055, 254766, 212302, 159023};
  PythonRandom rng(0);
  for (int64_t value : expected) EXPECT_EQ(rng.randint(0, 287644 - 2048 - 1), value);
  // random.seed(0); [random.randint(0, 355) for _ in range(6)]
  const std::vector<int64_t> small = {197, 215, 20, 132, 261, 248};
  rng.seed(0);
  for (int64_t value : small) EXPECT_EQ(rng.randint(0, 355), value);
}

TEST(PythonRandom, RandomMatchesCPythonSeed42) {
  // random.seed(42); [random.random() for _ in range(5)], compared bit-exactly.
  const std::vector<double> expected = {0.6394267984578837, 0.025010755222666936,
                                        0.27502931836911926, 0.22321073814882275,
                                        0.7364712141640124};
  PythonRandom rng(42);
  for (double value : expected) EXPECT_EQ(rng.random(), value);
}

TEST(PythonRandom, GetrandbitsMatchesCPython) {
  // random.seed(2**40 + 7): a two-chunk init_by_array key.
  PythonRandom rng((int64_t{1} << 40) + 7);
  for (uint64_t value :
       {2635837658ULL, 3209733218ULL, 3500038837ULL, 4028389051ULL, 4058793509ULL}) {
    EXPECT_EQ(rng.getrandbits(32), value);
  }
  // random.seed(-5) seeds with |-5|; [random.getrandbits(7) for _ in range(5)]
  rng.seed(-5);
  for (uint64_t value : {79ULL, 32ULL, 94ULL, 45ULL, 101ULL}) EXPECT_EQ(rng.getrandbits(7), value);
  // random.seed(123); 3 x getrandbits(64), then 2 x getrandbits(40)
  rng.seed(123);
  for (uint64_t value : {4937772249435845478ULL, 14184741768772312494ULL, 4917050030189248263ULL}) {
    EXPECT_EQ(rng.getrandbits(64), value);
  }
  for (uint64_t value : {919585570314ULL, 961648326706ULL}) EXPECT_EQ(rng.getrandbits(40), value);
}

TEST(PythonRandom, GetrandbitsZeroDrawsNothing) {
  // random.seed(0); random.getrandbits(0), random.random() -> 0 0.8444218515250481
  PythonRandom rng(0);
  EXPECT_EQ(rng.getrandbits(0), 0U);
  EXPECT_EQ(rng.random(), 0.8444218515250481);
}

TEST(PythonRandom, ShuffleMatchesCPython) {
  // random.seed(7); x = list(range(10)); random.shuffle(x)
  PythonRandom rng(7);
  std::vector<int> values = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  rng.shuffle(values);
  EXPECT_EQ(values, (std::vector<int>{8, 3, 1, 4, 7, 0, 9, 6, 2, 5}));
}

TEST(PythonRandom, RejectsBadArguments) {
  PythonRandom rng(0);
  EXPECT_THROW(rng.randint(5, 4), InputError);
  EXPECT_THROW(rng.getrandbits(65), InputError);
  EXPECT_THROW(rng.randbelow(0), InputError);
}

}  // namespace
}  // namespace ptq::quant
