#include "ptq/pipeline/bit_allocation.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ptq/common/error.h"

namespace ptq::quant {
namespace {

// Candidates (bits, error) of linears "l0", "l1", ...; the setting records the candidate's index
// in `bits` so that the choice can be read back.
std::vector<LinearCandidates> instance(
    const std::vector<std::vector<std::pair<double, double>>>& rows) {
  std::vector<LinearCandidates> linears;
  for (size_t l = 0; l < rows.size(); ++l) {
    LinearCandidates linear{"l" + std::to_string(l), {}};
    for (size_t j = 0; j < rows[l].size(); ++j) {
      linear.candidates.push_back({{static_cast<int>(j), -1}, rows[l][j].first, rows[l][j].second});
    }
    linears.push_back(linear);
  }
  return linears;
}

std::vector<int> chosen(const Allocation& a, size_t linears) {
  std::vector<int> indices;
  for (size_t l = 0; l < linears; ++l)
    indices.push_back(a.settings.at("l" + std::to_string(l)).bits);
  return indices;
}

// The least summed error within `budget` over every combination.
double enumerated_optimum(const std::vector<LinearCandidates>& linears, double budget) {
  double best = std::numeric_limits<double>::infinity();
  std::vector<size_t> pick(linears.size(), 0);
  while (true) {
    double bits = 0, error = 0;
    for (size_t l = 0; l < linears.size(); ++l) {
      bits += linears[l].candidates[pick[l]].bits;
      error += linears[l].candidates[pick[l]].error;
    }
    if (bits <= budget && error < best) best = error;
    size_t l = 0;
    while (l < linears.size() && ++pick[l] == linears[l].candidates.size()) pick[l++] = 0;
    if (l == linears.size()) return best;
  }
}

// By hand, of the 27 choices: at 25 bits only the cheapest fit (error 9 + 5 + 8 = 22); at 40,
// C's second (15 bits, error 2) gains most (16); at 55, A's third plus C's second (30 + 10 + 15,
// error 1 + 5 + 2 = 8) beats A's second with B's second (20 + 20 + 15 = 55, 4 + 3 + 2 = 9); at
// 65, B's second joins (6).
TEST(BitAllocation, HandDerivedOptimaAtFourBudgets) {
  const auto linears = instance(
      {{{10, 9}, {20, 4}, {30, 1}}, {{10, 5}, {20, 3}, {30, 2.5}}, {{5, 8}, {15, 2}, {25, 1.5}}});
  const std::vector<std::tuple<double, std::vector<int>, double, double>> expected = {
      {25, {0, 0, 0}, 25, 22},
      {40, {0, 0, 1}, 35, 16},
      {55, {2, 0, 1}, 55, 8},
      {65, {2, 1, 1}, 65, 6}};
  for (const auto& [budget, indices, bits, error] : expected) {
    SCOPED_TRACE(budget);
    const Allocation a = allocate_bits(linears, budget);
    EXPECT_EQ(chosen(a, 3), indices);
    EXPECT_EQ(a.bits, bits);
    EXPECT_EQ(a.error, error);
  }
}

// Whole bits and a budget of at most kBudgetUnits: one unit is one bit, so the result is the
// exact optimum.
TEST(BitAllocation, MatchesEnumerationOnRandomWholeBitInstances) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> bits(1, 200);
  std::uniform_real_distribution<double> error(0.0, 10.0);
  for (int trial = 0; trial < 40; ++trial) {
    SCOPED_TRACE(trial);
    std::vector<std::vector<std::pair<double, double>>> rows(4);
    double least = 0, most = 0;
    for (auto& row : rows) {
      double low = 1e9, high = 0;
      for (int j = 0; j < 5; ++j) {
        row.emplace_back(bits(rng), error(rng));
        low = std::min(low, row.back().first);
        high = std::max(high, row.back().first);
      }
      least += low;
      most += high;
    }
    const double budget =
        std::uniform_int_distribution<int>(static_cast<int>(least), static_cast<int>(most))(rng);
    const auto linears = instance(rows);
    const Allocation a = allocate_bits(linears, budget);
    EXPECT_LE(a.bits, budget);
    EXPECT_NEAR(a.error, enumerated_optimum(linears, budget), 1e-9);
  }
}

// A budget far above kBudgetUnits bits: the result fits, and is no worse than the optimum of a
// budget one unit per linear smaller (every choice within that fits after rounding up).
TEST(BitAllocation, LargeBudgetsFitAndLoseAtMostOneUnitPerLinear) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> bits(1e6, 5e7);
  std::uniform_real_distribution<double> error(0.0, 1.0);
  for (int trial = 0; trial < 20; ++trial) {
    SCOPED_TRACE(trial);
    std::vector<std::vector<std::pair<double, double>>> rows(4);
    for (auto& row : rows) {
      for (int j = 0; j < 5; ++j) row.emplace_back(bits(rng), error(rng));
    }
    const auto linears = instance(rows);
    const double budget = 1.2e8;
    const double unit = budget / static_cast<double>(kBudgetUnits);
    const double optimum = enumerated_optimum(linears, budget);
    const double tighter = enumerated_optimum(linears, budget - 4 * unit);
    const Allocation a = allocate_bits(linears, budget);
    EXPECT_LE(a.bits, budget);
    EXPECT_GE(a.error, optimum - 1e-12);
    EXPECT_LE(a.error, tighter + 1e-12);
  }
}

TEST(BitAllocation, RefusesBudgetsBelowTheCheapestAndEmptyOrInvalidCandidates) {
  const auto linears = instance({{{10, 9}, {20, 4}}, {{5, 1}, {8, 0.5}}});
  try {
    allocate_bits(linears, 14);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cheapest candidate of every linear needs (15 bits)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(allocate_bits(linears, 15).bits, 15);
  auto empty = linears;
  empty[1].candidates.clear();
  EXPECT_THROW(allocate_bits(empty, 100), InputError);
  auto negative = linears;
  negative[0].candidates[1].error = -1;
  EXPECT_THROW(allocate_bits(negative, 100), InputError);
}

}  // namespace
}  // namespace ptq::quant
