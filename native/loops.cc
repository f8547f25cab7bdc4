// See loops.h. The counter-based draws are 64-bit integer multiplies, which vectorise only with AVX-512
// (vpmullq): compiled for AVX-512, AVX2 and the baseline, the one the CPU has chosen at load, they take
// 0.05, 0.26 and 0.52 ms for 262,144 elements on one core here, bit for bit the same mask. The
// exp/log-heavy loops run 8 floats at a time with glibc's vector expf/logf (libmvec) when the CPU has AVX2
// and FMA, and one at a time otherwise (and for a row's last n mod 8 elements):
// about 10x apart on a 500 × 784 Bernoulli likelihood, which makes the difference between one pass and
// ATen's seven (sigmoid, softplus and the products, sums and differences around them).
#include "loops.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

namespace kexue {

namespace {

// The loop bodies, inlined into one function per instruction set below.
#define KEXUE_INLINE inline __attribute__((always_inline))

KEXUE_INLINE void DropoutBody(uint64_t seed, uint64_t keep, float scale, int64_t begin, int64_t end, float* p) {
  for (int64_t i = begin; i < end; ++i) p[i] = Bits24(seed, i) < keep ? scale : 0.0f;
}

KEXUE_INLINE void BernoulliBody(uint64_t seed, const float* prob, int64_t begin, int64_t end, float* q) {
  constexpr float kUnit = 1.0f / 16777216.0f;
  for (int64_t i = begin; i < end; ++i) q[i] = static_cast<float>(Bits24(seed, i)) * kUnit < prob[i] ? 1.0f : 0.0f;
}

#define KEXUE_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl")))
#define KEXUE_AVX2 __attribute__((target("avx2")))

KEXUE_AVX512 void DropoutAvx512(uint64_t s, uint64_t k, float c, int64_t b, int64_t e, float* p) {
  DropoutBody(s, k, c, b, e, p);
}
KEXUE_AVX2 void DropoutAvx2(uint64_t s, uint64_t k, float c, int64_t b, int64_t e, float* p) {
  DropoutBody(s, k, c, b, e, p);
}
KEXUE_AVX512 void BernoulliAvx512(uint64_t s, const float* prob, int64_t b, int64_t e, float* q) {
  BernoulliBody(s, prob, b, e, q);
}
KEXUE_AVX2 void BernoulliAvx2(uint64_t s, const float* prob, int64_t b, int64_t e, float* q) {
  BernoulliBody(s, prob, b, e, q);
}

// The widest instruction set the CPU has, unless KEXUE_ATEN_ISA (avx512, avx2 or baseline) caps it:
// tests run every path that way and compare them.
int IsaLevel() {
  int level = 0;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    level = 1;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
      level = 2;
  }
  const char* cap = std::getenv("KEXUE_ATEN_ISA");
  if (cap == nullptr) return level;
  const std::string c = cap;
  return std::min(level, c == "baseline" ? 0 : c == "avx2" ? 1 : 2);
}

const int kIsa = IsaLevel();
const bool kAvx2 = kIsa >= 1;
const bool kAvx512 = kIsa >= 2;

}  // namespace

void DropoutMask(uint64_t seed, uint64_t keep, float scale, int64_t begin, int64_t end, float* p) {
  if (kAvx512) DropoutAvx512(seed, keep, scale, begin, end, p);
  else if (kAvx2) DropoutAvx2(seed, keep, scale, begin, end, p);
  else DropoutBody(seed, keep, scale, begin, end, p);
}

void BernoulliDraw(uint64_t seed, const float* prob, int64_t begin, int64_t end, float* q) {
  if (kAvx512) BernoulliAvx512(seed, prob, begin, end, q);
  else if (kAvx2) BernoulliAvx2(seed, prob, begin, end, q);
  else BernoulliBody(seed, prob, begin, end, q);
}

namespace {

// AdamWScalars as the loops use them.
struct AdamWConsts {
  float clip, b1, a1, b2, a2, step, bc2, eps, decay;
};

AdamWConsts ConstsOf(const AdamWScalars& s) {
  return {static_cast<float>(s.clip), static_cast<float>(s.beta1), static_cast<float>(1 - s.beta1),
          static_cast<float>(s.beta2), static_cast<float>(1 - s.beta2), static_cast<float>(-s.lr / s.bc1),
          static_cast<float>(s.bc2), static_cast<float>(s.epsilon), static_cast<float>(s.decay)};
}

// One element: p2, m2, v2 from p, m, v, g (the outputs may be the inputs' own elements).
KEXUE_INLINE void AdamWElement(const AdamWConsts& c, float p, float m, float v, float g, float& p2, float& m2,
                               float& v2) {
  const float gi = c.clip * g;
  const float mi = c.b1 * m + c.a1 * gi;
  const float vi = c.b2 * v + c.a2 * gi * gi;
  m2 = mi;
  v2 = vi;
  p2 = c.decay * p + c.step * (mi / (std::sqrt(vi / c.bc2) + c.eps));
}

// Outputs never alias inputs (fresh tensors): saying so lets the compiler vectorise the loop. The addon is
// compiled with -ffp-contract=off, so that the AVX-512 build does not fuse the multiply-adds: the update is
// then the same bit for bit on every instruction set. (Fused, it differed in the last bits, which was enough
// for a 300-step GAN smoke test to end 0.84 from its target instead of within 0.35.)
KEXUE_INLINE void AdamWBody(const float* __restrict p, const float* __restrict m, const float* __restrict v,
                            const float* __restrict g, int64_t n, const AdamWScalars& s, float* __restrict p2,
                            float* __restrict m2, float* __restrict v2) {
  const AdamWConsts c = ConstsOf(s);
  for (int64_t i = 0; i < n; ++i) AdamWElement(c, p[i], m[i], v[i], g[i], p2[i], m2[i], v2[i]);
}

// In place: p, m and v are distinct arrays, each element read before it is written.
KEXUE_INLINE void AdamWInPlaceBody(float* __restrict p, float* __restrict m, float* __restrict v,
                                   const float* __restrict g, int64_t n, const AdamWScalars& s) {
  const AdamWConsts c = ConstsOf(s);
  for (int64_t i = 0; i < n; ++i) AdamWElement(c, p[i], m[i], v[i], g[i], p[i], m[i], v[i]);
}

KEXUE_AVX512 void AdamWAvx512(const float* p, const float* m, const float* v, const float* g, int64_t n,
                              const AdamWScalars& s, float* p2, float* m2, float* v2) {
  AdamWBody(p, m, v, g, n, s, p2, m2, v2);
}
KEXUE_AVX2 void AdamWAvx2(const float* p, const float* m, const float* v, const float* g, int64_t n,
                          const AdamWScalars& s, float* p2, float* m2, float* v2) {
  AdamWBody(p, m, v, g, n, s, p2, m2, v2);
}
KEXUE_AVX512 void AdamWInPlaceAvx512(float* p, float* m, float* v, const float* g, int64_t n, const AdamWScalars& s) {
  AdamWInPlaceBody(p, m, v, g, n, s);
}
KEXUE_AVX2 void AdamWInPlaceAvx2(float* p, float* m, float* v, const float* g, int64_t n, const AdamWScalars& s) {
  AdamWInPlaceBody(p, m, v, g, n, s);
}

}  // namespace

void AdamW(const float* p, const float* m, const float* v, const float* g, int64_t n, const AdamWScalars& s,
           float* p2, float* m2, float* v2) {
  if (kAvx512) AdamWAvx512(p, m, v, g, n, s, p2, m2, v2);
  else if (kAvx2) AdamWAvx2(p, m, v, g, n, s, p2, m2, v2);
  else AdamWBody(p, m, v, g, n, s, p2, m2, v2);
}

void AdamWInPlace(float* p, float* m, float* v, const float* g, int64_t n, const AdamWScalars& s) {
  if (kAvx512) AdamWInPlaceAvx512(p, m, v, g, n, s);
  else if (kAvx2) AdamWInPlaceAvx2(p, m, v, g, n, s);
  else AdamWInPlaceBody(p, m, v, g, n, s);
}

namespace {

// softplus(l) = max(l, 0) + log(1 + e) and sigmoid(l) from e = exp(−|l|) ∈ (0, 1]: no overflow for any l.
inline float SoftplusScalar(float l, float e) { return std::fmax(l, 0.0f) + std::log1p(e); }
inline float SigmoidScalar(float l, float e) { return l >= 0 ? 1 / (1 + e) : e / (1 + e); }

float LogPmfScalar(const float* x, const float* l, int64_t n) {
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i] * l[i] - SoftplusScalar(l[i], std::exp(-std::fabs(l[i])));
  return sum;
}

void GradScalar(float dy, const float* x, const float* l, int64_t n, float* dl) {
  for (int64_t i = 0; i < n; ++i) dl[i] = dy * (x[i] - SigmoidScalar(l[i], std::exp(-std::fabs(l[i]))));
}

#pragma GCC push_options
#pragma GCC target("avx2,fma")
extern "C" __m256 _ZGVdN8v_expf(__m256);  // libmvec (glibc): 8 expf at once
extern "C" __m256 _ZGVdN8v_logf(__m256);
extern "C" __m256 _ZGVdN8v_tanhf(__m256);

// exp(−|l|) for 8 lanes: |l| negated by setting the sign bit.
inline __m256 ExpNegAbs(__m256 l) { return _ZGVdN8v_expf(_mm256_or_ps(l, _mm256_set1_ps(-0.0f))); }

float LogPmfAvx2(const float* x, const float* l, int64_t n) {
  __m256 acc = _mm256_setzero_ps();
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 li = _mm256_loadu_ps(l + i), xi = _mm256_loadu_ps(x + i);
    const __m256 softplus = _mm256_add_ps(_mm256_max_ps(li, zero), _ZGVdN8v_logf(_mm256_add_ps(one, ExpNegAbs(li))));
    acc = _mm256_add_ps(acc, _mm256_fmsub_ps(xi, li, softplus));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  float sum = 0;
  for (float lane : lanes) sum += lane;
  return sum + LogPmfScalar(x + i, l + i, n - i);
}

void GradAvx2(float dy, const float* x, const float* l, int64_t n, float* dl) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps(), d = _mm256_set1_ps(dy);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 li = _mm256_loadu_ps(l + i), e = ExpNegAbs(li);
    const __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, e));
    const __m256 sigmoid = _mm256_blendv_ps(_mm256_mul_ps(e, r), r, _mm256_cmp_ps(li, zero, _CMP_GE_OQ));
    _mm256_storeu_ps(dl + i, _mm256_mul_ps(d, _mm256_sub_ps(_mm256_loadu_ps(x + i), sigmoid)));
  }
  GradScalar(dy, x + i, l + i, n - i, dl + i);
}

int64_t TanhAvx2(const float* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _ZGVdN8v_tanhf(_mm256_loadu_ps(x + i)));
  return i;
}
#pragma GCC pop_options

}  // namespace

float BernoulliLogPmfRow(const float* x, const float* l, int64_t n) {
  return kAvx2 ? LogPmfAvx2(x, l, n) : LogPmfScalar(x, l, n);
}

void BernoulliLogPmfGradRow(float dy, const float* x, const float* l, int64_t n, float* dl) {
  if (kAvx2) GradAvx2(dy, x, l, n, dl);
  else GradScalar(dy, x, l, n, dl);
}

// ATen's tanh (Sleef) took 0.11–0.17 ms for 500 × 200 on two threads here; this loop 0.06 ms on one.
void Tanh(const float* x, int64_t n, float* y) {
  for (int64_t i = kAvx2 ? TanhAvx2(x, n, y) : 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

void TanhGrad(const float* __restrict dy, const float* __restrict y, int64_t n, float* __restrict dx) {
  for (int64_t i = 0; i < n; ++i) dx[i] = dy[i] * (1 - y[i] * y[i]);
}

void BiasActivate(Activation act, const float* __restrict b, int64_t r0, int64_t r1, int64_t cols, float* __restrict y) {
  for (int64_t r = r0; r < r1; ++r) {
    float* row = y + r * cols;
    for (int64_t j = 0; j < cols; ++j) row[j] += b[j];
    switch (act) {
      case Activation::kLinear:
        break;
      case Activation::kRelu:
        for (int64_t j = 0; j < cols; ++j) row[j] = row[j] > 0 ? row[j] : 0.0f;
        break;
      case Activation::kTanh:
        Tanh(row, cols, row);
        break;
      case Activation::kSigmoid:
        for (int64_t j = 0; j < cols; ++j) row[j] = 1.0f / (1.0f + std::exp(-row[j]));
        break;
    }
  }
}

namespace {

// One row's columns [c0, c1) of DenseActGrad, with the derivative `deriv(y)`.
template <typename Deriv>
KEXUE_INLINE void DenseRow(const float* __restrict dy, const float* __restrict y, int64_t c0, int64_t c1,
                           float* __restrict dpre, float* __restrict db, Deriv deriv) {
  for (int64_t j = c0; j < c1; ++j) {
    const float d = dy[j] * deriv(y[j]);
    dpre[j] = d;
    db[j] += d;
  }
}

}  // namespace

void DenseActGrad(Activation act, const float* dy, const float* y, int64_t rows, int64_t cols, int64_t c0, int64_t c1,
                  float* dpre, float* db) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t o = r * cols;
    switch (act) {
      case Activation::kLinear:
        for (int64_t j = c0; j < c1; ++j) db[j] += dy[o + j];
        break;
      case Activation::kRelu:
        DenseRow(dy + o, y + o, c0, c1, dpre + o, db, [](float v) { return v > 0 ? 1.0f : 0.0f; });
        break;
      case Activation::kTanh:
        DenseRow(dy + o, y + o, c0, c1, dpre + o, db, [](float v) { return 1 - v * v; });
        break;
      case Activation::kSigmoid:
        DenseRow(dy + o, y + o, c0, c1, dpre + o, db, [](float v) { return v * (1 - v); });
        break;
    }
  }
}

}  // namespace kexue
