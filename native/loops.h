// Hand-written loops for the fused kernels ATen has no single operator for. Plain C++ on raw float
// pointers (no Node, no tensors), so each is testable against its op-by-op form; aten.cc wraps them.
#pragma once

#include <cstdint>

namespace kexue {

// SplitMix64's output function (also mixes a seed, so that nearby seeds start far apart).
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The counter-based draw of element i for a mixed seed: the top 24 bits of SplitMix64's i-th output,
// an integer in [0, 2^24). The same for any thread count and any instruction set, since it depends only
// on (seed, i) and is integer arithmetic.
inline uint64_t Bits24(uint64_t seed, int64_t i) {
  constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ull;
  return Mix64(seed + static_cast<uint64_t>(i + 1) * kGamma) >> 40;
}

// Elements [begin, end) of a dropout multiplier: p[i] = scale when Bits24(seed, i) < keep, else 0.
void DropoutMask(uint64_t seed, uint64_t keep, float scale, int64_t begin, int64_t end, float* p);

// Elements [begin, end) of Bernoulli draws: q[i] = 1 when Bits24(seed, i) / 2^24 < prob[i], else 0.
void BernoulliDraw(uint64_t seed, const float* prob, int64_t begin, int64_t end, float* q);

// The AdamW update of one variable (formula in src/nn/fused-update.ts), out of place:
//   g' = clip·g,  m' = β₁m + (1−β₁)g',  v' = β₂v + (1−β₂)g'²,
//   p' = decay·p − (lr/bc₁)·m' / (√(v'/bc₂) + ε).
// Double, as JavaScript passes them: 1 − β₂ must be formed before rounding to float (1 − 0.999f is off
// by 1.3e-5 relative).
struct AdamWScalars {
  double clip, beta1, beta2, bc1, bc2, epsilon, lr, decay;
};
void AdamW(const float* p, const float* m, const float* v, const float* g, int64_t n, const AdamWScalars& s,
           float* p2, float* m2, float* v2);
// The same update written over p, m and v (three distinct arrays).
void AdamWInPlace(float* p, float* m, float* v, const float* g, int64_t n, const AdamWScalars& s);

// One row of log Bernoulli(x; sigmoid(l)) = Σᵢ xᵢlᵢ − softplus(lᵢ), over n elements.
float BernoulliLogPmfRow(const float* x, const float* l, int64_t n);

// Its gradient for one row: dl = dy·(x − sigmoid(l)), n elements.
void BernoulliLogPmfGradRow(float dy, const float* x, const float* l, int64_t n, float* dl);

// y = tanh(x) over n elements (libmvec's 8-lane tanhf with AVX2 and FMA, within 1e-7 of float64).
void Tanh(const float* x, int64_t n, float* y);

// tanh's gradient from its output: dx = dy·(1 − y²) over n elements.
void TanhGrad(const float* dy, const float* y, int64_t n, float* dx);

// A dense layer's activation, numbered as the addon takes it.
enum class Activation { kLinear = 0, kRelu = 1, kTanh = 2, kSigmoid = 3 };

// Rows [r0, r1) of y [rows, cols] become act(y + b) in place (tanh as in Tanh, sigmoid as 1/(1 + e^(−v))).
void BiasActivate(Activation act, const float* b, int64_t r0, int64_t r1, int64_t cols, float* y);

// Columns [c0, c1) of a dense layer's backward through its activation, from its output y ([rows, cols],
// like dy): dpre = dy·act'(y) (relu: y > 0; tanh: 1 − y²; sigmoid: y(1 − y)) and db[j] += Σ_r dpre[r, j].
// Linear: dpre is dy, not written (it may be dy's own memory); only db is summed.
void DenseActGrad(Activation act, const float* dy, const float* y, int64_t rows, int64_t cols, int64_t c0, int64_t c1,
                  float* dpre, float* db);

}  // namespace kexue
