// kexue_aten: a thin, generic Node binding over ATen (libtorch 1.13).
//
// Tensors live in a native table keyed by integer ids; JS holds only the id. Any ATen operator is
// reachable through the dispatcher by schema name ("aten::add", overload "Tensor"): JS resolves an
// operator once to a handle, then calls it with an argument array. Arguments are converted by the
// operator's schema (Tensor <- id, int[] <- number[], Scalar <- number, ScalarType <- dtype string,
// missing trailing arguments <- schema defaults), so the binding needs no per-op code.
#include <napi.h>

#include "loops.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/InferenceMode.h>

#include <dlfcn.h>
#include <malloc.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

std::unordered_map<int64_t, at::Tensor> g_tensors;
int64_t g_next_id = 1;
std::vector<c10::OperatorHandle> g_ops;

int64_t Put(at::Tensor t) {
  const int64_t id = g_next_id++;
  g_tensors.emplace(id, std::move(t));
  return id;
}

const at::Tensor& Get(Napi::Env env, const Napi::Value& v) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, "expected a tensor id");
  auto it = g_tensors.find(v.As<Napi::Number>().Int64Value());
  if (it == g_tensors.end()) throw Napi::Error::New(env, "unknown tensor id (already disposed?)");
  return it->second;
}

at::ScalarType ParseDtype(Napi::Env env, const std::string& s) {
  if (s == "float32") return at::kFloat;
  if (s == "int32") return at::kInt;
  if (s == "bool") return at::kBool;
  if (s == "float64") return at::kDouble;
  if (s == "int64") return at::kLong;
  if (s == "complex64") return at::kComplexFloat;
  throw Napi::TypeError::New(env, "unsupported dtype " + s);
}

const char* DtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kInt: return "int32";
    case at::kBool: return "bool";
    case at::kDouble: return "float64";
    case at::kLong: return "int64";
    case at::kComplexFloat: return "complex64";
    default: return "other";
  }
}

std::vector<int64_t> IntList(Napi::Env env, const Napi::Value& v) {
  std::vector<int64_t> out;
  if (v.IsNumber()) {
    out.push_back(v.As<Napi::Number>().Int64Value());
    return out;
  }
  if (!v.IsArray()) throw Napi::TypeError::New(env, "expected an int list");
  auto a = v.As<Napi::Array>();
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(a.Get(i).As<Napi::Number>().Int64Value());
  return out;
}

at::Scalar ToScalar(const Napi::Value& v) {
  if (v.IsBoolean()) return at::Scalar(v.As<Napi::Boolean>().Value());
  const double d = v.As<Napi::Number>().DoubleValue();
  // Integral JS numbers become integer scalars so that int tensors stay int (torch promotion rules).
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return at::Scalar(static_cast<int64_t>(d));
  return at::Scalar(d);
}

c10::IValue Convert(Napi::Env env, const c10::TypePtr& type, const Napi::Value& v);

c10::IValue ConvertList(Napi::Env env, const c10::TypePtr& elem, const Napi::Value& v) {
  switch (elem->kind()) {
    case c10::TypeKind::TensorType: {
      auto a = v.As<Napi::Array>();
      c10::List<at::Tensor> list;
      list.reserve(a.Length());
      for (uint32_t i = 0; i < a.Length(); ++i) list.push_back(Get(env, a.Get(i)));
      return list;
    }
    case c10::TypeKind::OptionalType: {  // Tensor?[] (aten::index)
      auto a = v.As<Napi::Array>();
      c10::List<c10::optional<at::Tensor>> list;
      for (uint32_t i = 0; i < a.Length(); ++i) {
        Napi::Value e = a.Get(i);
        if (e.IsNull() || e.IsUndefined()) list.push_back(c10::nullopt);
        else list.push_back(Get(env, e));
      }
      return list;
    }
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: return c10::List<int64_t>(IntList(env, v));
    case c10::TypeKind::FloatType: {
      auto a = v.As<Napi::Array>();
      c10::List<double> list;
      for (uint32_t i = 0; i < a.Length(); ++i) list.push_back(a.Get(i).As<Napi::Number>().DoubleValue());
      return list;
    }
    case c10::TypeKind::BoolType: {
      auto a = v.As<Napi::Array>();
      c10::List<bool> list;
      for (uint32_t i = 0; i < a.Length(); ++i) list.push_back(a.Get(i).ToBoolean().Value());
      return list;
    }
    default: throw Napi::TypeError::New(env, std::string("unsupported list element type ") + elem->str());
  }
}

c10::IValue Convert(Napi::Env env, const c10::TypePtr& type, const Napi::Value& v) {
  switch (type->kind()) {
    case c10::TypeKind::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return Convert(env, type->castRaw<c10::OptionalType>()->getElementType(), v);
    case c10::TypeKind::TensorType: return Get(env, v);
    case c10::TypeKind::ListType: return ConvertList(env, type->castRaw<c10::ListType>()->getElementType(), v);
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType:
    case c10::TypeKind::ScalarTypeType:
      if (v.IsString()) return static_cast<int64_t>(ParseDtype(env, v.As<Napi::String>().Utf8Value()));
      if (v.IsBoolean()) return static_cast<int64_t>(v.As<Napi::Boolean>().Value());
      return v.As<Napi::Number>().Int64Value();
    case c10::TypeKind::FloatType: return v.As<Napi::Number>().DoubleValue();
    case c10::TypeKind::BoolType: return v.ToBoolean().Value();
    case c10::TypeKind::NumberType: return ToScalar(v);
    case c10::TypeKind::StringType: return v.As<Napi::String>().Utf8Value();
    default: throw Napi::TypeError::New(env, std::string("unsupported argument type ") + type->str());
  }
}

// Canonical storage dtypes are float32 / int32 / bool: ATen results in int64 or float64 are narrowed.
at::Tensor Canonical(at::Tensor t) {
  switch (t.scalar_type()) {
    case at::kLong: return t.to(at::kInt);
    case at::kDouble: return t.to(at::kFloat);
    default: return t;
  }
}

// mode: 0 = canonical dtype, 1 = cast to `want`, 2 = raw (keep int64/float64 intermediates).
Napi::Value ResultToJs(Napi::Env env, const c10::IValue& r, at::ScalarType want, int mode) {
  if (r.isTensor()) {
    at::Tensor t = r.toTensor();
    if (mode == 1 && t.scalar_type() != want) t = t.to(want);
    else if (mode == 0) t = Canonical(t);
    return Napi::Number::New(env, static_cast<double>(Put(std::move(t))));
  }
  if (r.isTensorList()) {
    auto list = r.toTensorList();
    auto a = Napi::Array::New(env, list.size());
    for (size_t i = 0; i < list.size(); ++i) a.Set(i, ResultToJs(env, c10::IValue(list.get(i)), want, mode));
    return a;
  }
  if (r.isInt()) return Napi::Number::New(env, static_cast<double>(r.toInt()));
  if (r.isDouble()) return Napi::Number::New(env, r.toDouble());
  if (r.isBool()) return Napi::Boolean::New(env, r.toBool());
  if (r.isNone()) return env.Null();
  throw Napi::TypeError::New(env, "unsupported return type " + r.tagKind());
}

// op(name, overload) -> handle
Napi::Value Op(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = info[0].As<Napi::String>();
  const std::string overload = info[1].As<Napi::String>();
  auto h = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!h) throw Napi::Error::New(env, "no ATen operator " + name + "." + overload);
  g_ops.push_back(*h);
  return Napi::Number::New(env, static_cast<double>(g_ops.size() - 1));
}

// Operators whose tensor inputs all have fewer elements than this run on the calling thread alone.
// ATen parallelises its vectorised math (exp, log, tanh, neg, ...) from 2,048 elements, the rest from
// 32,768; waking the passive OpenMP workers costs ~10-20 µs here, more than the work saves at these sizes
// (exp of 100 × 50: 27 µs on two threads, 6 µs on one). Larger inputs keep ATen's own choice.
constexpr int64_t kSerialBelow = 1 << 15;

// The number of elements of the largest tensor on the argument stack (0 when there is none).
int64_t LargestInput(const std::vector<c10::IValue>& stack) {
  int64_t most = 0;
  for (const auto& v : stack) {
    if (v.isTensor()) most = std::max(most, v.toTensor().numel());
    else if (v.isTensorList())
      for (const at::Tensor& t : v.toTensorList().vec()) most = std::max(most, t.numel());
  }
  return most;
}

// Caps OpenMP's (and so ATen's) thread count at one while it lives.
class SerialScope {
 public:
  explicit SerialScope(bool on) : threads_(on ? omp_get_max_threads() : 0) {
    if (on) omp_set_num_threads(1);
  }
  ~SerialScope() {
    if (threads_ > 0) omp_set_num_threads(threads_);
  }
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  int threads_;
};

// call(handle, args[], mode?) -> id | id[] | number; mode: a dtype to cast tensor results to, or "raw".
Napi::Value Call(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto idx = info[0].As<Napi::Number>().Uint32Value();
  if (idx >= g_ops.size()) throw Napi::Error::New(env, "bad operator handle");
  const auto& op = g_ops[idx];
  const auto& schema = op.schema();
  const auto& formals = schema.arguments();
  auto args = info[1].As<Napi::Array>();
  const uint32_t n = args.Length();
  int mode = 0;
  at::ScalarType want = at::kFloat;
  if (info.Length() > 2 && info[2].IsString()) {
    const std::string m = info[2].As<Napi::String>();
    if (m == "raw") mode = 2;
    else { mode = 1; want = ParseDtype(env, m); }
  }
  std::vector<c10::IValue> stack;
  stack.reserve(formals.size());
  for (size_t i = 0; i < formals.size(); ++i) {
    const auto& f = formals[i];
    Napi::Value v = i < n ? args.Get(static_cast<uint32_t>(i)) : env.Undefined();
    if (v.IsUndefined() && f.default_value()) {
      stack.push_back(*f.default_value());
    } else {
      stack.push_back(Convert(env, f.type(), v));
    }
  }
  const int64_t largest = LargestInput(stack);
  try {
    c10::InferenceMode guard;
    SerialScope serial(largest > 0 && largest < kSerialBelow);
    op.callBoxed(&stack);
  } catch (const c10::Error& e) {
    throw Napi::Error::New(env, schema.name() + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, schema.name() + ": " + e.what());
  }
  if (stack.size() == 1) return ResultToJs(env, stack[0], want, mode);
  auto a = Napi::Array::New(env, stack.size());
  for (size_t i = 0; i < stack.size(); ++i) a.Set(i, ResultToJs(env, stack[i], want, mode));
  return a;
}

// fromData(typedArray, shape, dtype) -> id (copies)
Napi::Value FromData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto shape = IntList(env, info[1]);
  const auto dtype = ParseDtype(env, info[2].As<Napi::String>());
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (info[0].IsTypedArray()) {
    auto ta = info[0].As<Napi::TypedArray>();
    const size_t bytes = t.numel() * t.element_size();
    if (ta.ByteLength() != bytes) throw Napi::RangeError::New(env, "data size does not match shape/dtype");
    auto* src = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    if (bytes > 0) std::memcpy(t.data_ptr(), src, bytes);
  } else {
    t.zero_();
  }
  return Napi::Number::New(env, static_cast<double>(Put(std::move(t))));
}

// A seed argument, mixed first so that nearby seeds start far apart in the sequence.
inline uint64_t SeedArg(const Napi::Value& v) {
  return kexue::Mix64(static_cast<uint64_t>(v.As<Napi::Number>().Int64Value()));
}

// dropoutMask(shape, rate, seed) -> id of a float32 tensor of 0 and 1/(1 - rate), each kept with
// probability 1 - rate. The one kernel not reached through the dispatcher: ATen's bernoulli_ draws its
// numbers one at a time from a shared mt19937, as slow per element as tf.dropout's JavaScript loop (about
// 5 ms per 262k-element activation; an encoder step has 13). Element i takes SplitMix64's i-th output for
// the seed: counter-based, so the mask is the same for any thread count, and parallel.
Napi::Value DropoutMask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto shape = IntList(env, info[0]);
  const double rate = info[1].As<Napi::Number>().DoubleValue();
  if (!(rate >= 0 && rate < 1)) throw Napi::RangeError::New(env, "dropout rate must be in [0, 1)");
  const uint64_t seed = SeedArg(info[2]);
  at::Tensor t = at::empty(shape, at::kFloat);
  float* p = t.data_ptr<float>();
  const float scale = static_cast<float>(1 / (1 - rate));
  // Keep when the top 24 bits, as a fraction of 2^24, fall below 1 - rate.
  const uint64_t keep = static_cast<uint64_t>((1 - rate) * 16777216.0);
  at::parallel_for(0, t.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
    kexue::DropoutMask(seed, keep, scale, begin, end, p);
  });
  return Napi::Number::New(env, static_cast<double>(Put(std::move(t))));
}

// randomNormal(shape, seed) -> id of a float32 tensor of standard-normal draws: ATen's normal (its
// vectorised Box-Muller, as torch.randn) from a generator made for this call from the seed, so a seed
// gives the same numbers for any thread count and no global state is touched. tf.randomNormal draws in
// a JavaScript loop, ~50 ns per number (about 1 ms of an IWAE k = 5 step's 17 at batch 100).
Napi::Value RandomNormal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto shape = IntList(env, info[0]);
  const uint64_t seed = SeedArg(info[1]);
  at::Tensor t = at::normal(0, 1, shape, at::make_generator<at::CPUGeneratorImpl>(seed), at::kFloat);
  return Napi::Number::New(env, static_cast<double>(Put(std::move(t))));
}

// bernoulli(id p, seed) -> id of a float32 tensor of 0 and 1, element i being 1 with probability p[i]
// (p outside [0, 1] is clamped). Counter-based like dropoutMask, and for the same reason (ATen's
// bernoulli draws serially, ~15 ns a number): element i is 1 when the top 24 bits of SplitMix64's i-th
// output for the seed, as a fraction of 2^24, fall below p[i].
Napi::Value Bernoulli(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor p = Canonical(Get(env, info[0])).to(at::kFloat).contiguous();
  const uint64_t seed = SeedArg(info[1]);
  at::Tensor t = at::empty(p.sizes(), at::kFloat);
  const float* pp = p.data_ptr<float>();
  float* q = t.data_ptr<float>();
  at::parallel_for(0, t.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
    kexue::BernoulliDraw(seed, pp, begin, end, q);
  });
  return Napi::Number::New(env, static_cast<double>(Put(std::move(t))));
}

// A float32 tensor's contents, contiguous (a copy only when it is a view with other strides or dtype).
at::Tensor Floats(Napi::Env env, const Napi::Value& v) { return Get(env, v).to(at::kFloat).contiguous(); }

// Element-wise loops split into blocks of 2^17: waking the second thread (~10-20 µs with passive OpenMP
// workers) costs more than it saves below that, and training steps are full of tensors of 10^4-10^5.
constexpr int64_t kElementGrain = 1 << 17;

// Whether `t` (a tensor of the table) may be overwritten: float32, contiguous, the only tensor of the table
// and of ATen (no view) over its whole storage.
bool Overwritable(const at::Tensor& t) {
  return t.scalar_type() == at::kFloat && t.is_contiguous() && t.storage_offset() == 0 && t.use_count() == 1 &&
         t.storage().use_count() == 1 && t.storage().nbytes() == static_cast<size_t>(t.numel()) * sizeof(float);
}

// adamW([p0, m0, v0, g0, p1, ...], clipScale | null, [clip, beta1, beta2, bc1, bc2, epsilon, lr], [decay0, ...],
//   [sole0, ...]) -> [p0', m0', v0', p1', ...]: every variable's AdamW update (kexue::AdamW, one pass where
// ATen's ops take seven) in one call. The variables are laid end to end and that range is split evenly over
// the threads, so a model's many small tensors and few large ones keep both cores equally busy; per
// variable, the large ones' split used to leave one thread with a block of 2^17 and the other with the rest.
// A variable whose param, m and v tfjs holds once (sole: refCount 1, said the caller) and which are
// Overwritable here is updated in place, its outputs new handles to the same tensors; otherwise the outputs
// are new tensors, so that views and tfjs copies of the old values keep them.
Napi::Value AdamW(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto ids = info[0].As<Napi::Array>();
  const auto decays = info[3].As<Napi::Array>();
  const auto sole = info[4].As<Napi::Array>();
  const uint32_t count = ids.Length() / 4;
  if (ids.Length() % 4 != 0 || decays.Length() != count || sole.Length() != count)
    throw Napi::TypeError::New(env, "adamW: expected 4 ids, one decay and one sole flag per variable");
  std::vector<double> a;
  auto list = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) a.push_back(list.Get(i).As<Napi::Number>().DoubleValue());
  if (a.size() != 7) throw Napi::TypeError::New(env, "adamW: expected 7 scalars");
  double clip = a[0];
  if (!info[1].IsNull()) clip *= Floats(env, info[1]).data_ptr<float>()[0];
  struct Part {
    at::Tensor p, m, v, g, p2, m2, v2;
    kexue::AdamWScalars s;
    int64_t begin;  // offset in the variables laid end to end
    bool inPlace;
  };
  std::vector<Part> parts;
  int64_t total = 0;
  for (uint32_t i = 0; i < count; ++i) {
    // Checked on the table's own tensors, before Floats adds handles to them. Four distinct tensors: the same
    // id twice (a variable passed as its own gradient) would pass Overwritable; a view of one would not.
    const at::Tensor &p = Get(env, ids.Get(4 * i)), &m = Get(env, ids.Get(4 * i + 1)), &v = Get(env, ids.Get(4 * i + 2)),
                     &g = Get(env, ids.Get(4 * i + 3));
    const bool distinct =
        !p.is_same(m) && !p.is_same(v) && !p.is_same(g) && !m.is_same(v) && !m.is_same(g) && !v.is_same(g);
    const bool inPlace = sole.Get(i).As<Napi::Boolean>().Value() && Overwritable(p) && Overwritable(m) &&
                         Overwritable(v) && distinct;
    Part q{Floats(env, ids.Get(4 * i)), Floats(env, ids.Get(4 * i + 1)), Floats(env, ids.Get(4 * i + 2)),
           Floats(env, ids.Get(4 * i + 3)), {}, {}, {},
           {clip, a[1], a[2], a[3], a[4], a[5], a[6], decays.Get(i).As<Napi::Number>().DoubleValue()}, total, inPlace};
    const int64_t n = q.p.numel();
    if (q.m.numel() != n || q.v.numel() != n || q.g.numel() != n) throw Napi::RangeError::New(env, "adamW: sizes differ");
    q.p2 = q.inPlace ? q.p : at::empty_like(q.p);
    q.m2 = q.inPlace ? q.m : at::empty_like(q.m);
    q.v2 = q.inPlace ? q.v : at::empty_like(q.v);
    total += n;
    parts.push_back(std::move(q));
  }
  at::parallel_for(0, total, kElementGrain, [&](int64_t begin, int64_t end) {
    for (const Part& q : parts) {
      const int64_t lo = std::max(begin, q.begin), hi = std::min(end, q.begin + q.p.numel());
      if (lo >= hi) continue;
      const int64_t o = lo - q.begin;
      if (q.inPlace)
        kexue::AdamWInPlace(q.p.data_ptr<float>() + o, q.m.data_ptr<float>() + o, q.v.data_ptr<float>() + o,
                            q.g.data_ptr<float>() + o, hi - lo, q.s);
      else
        kexue::AdamW(q.p.data_ptr<float>() + o, q.m.data_ptr<float>() + o, q.v.data_ptr<float>() + o,
                     q.g.data_ptr<float>() + o, hi - lo, q.s, q.p2.data_ptr<float>() + o, q.m2.data_ptr<float>() + o,
                     q.v2.data_ptr<float>() + o);
    }
  });
  auto out = Napi::Array::New(env, 3 * count);
  for (uint32_t i = 0; i < count; ++i) {
    out.Set(3 * i, Napi::Number::New(env, static_cast<double>(Put(std::move(parts[i].p2)))));
    out.Set(3 * i + 1, Napi::Number::New(env, static_cast<double>(Put(std::move(parts[i].m2)))));
    out.Set(3 * i + 2, Napi::Number::New(env, static_cast<double>(Put(std::move(parts[i].v2)))));
  }
  return out;
}

// Offset of item i of `sizes`' first `axes` axes (row-major) in a tensor with `strides`' strides: the rows of
// a broadcast operand, the matrices of a batch.
int64_t LeadingOffset(const at::Tensor& sizes, const at::Tensor& strides, int64_t axes, int64_t i) {
  int64_t off = 0;
  for (int64_t d = axes - 1; d >= 0; --d) {
    off += (i % sizes.size(d)) * strides.stride(d);
    i /= sizes.size(d);
  }
  return off;
}

// The Bernoulli log-likelihood's operands as rows: logits l contiguous [rows, n], and x broadcast to l's
// shape (the VAE's data [B, 1, D] against logits [B, k, D]) read in place through its strides.
struct BernoulliRows {
  at::Tensor l, x;
  int64_t rows, n;
  // Offset of row r in x: r split over l's leading axes, through x's (broadcast) strides.
  int64_t XOffset(int64_t r) const { return LeadingOffset(l, x, l.dim() - 1, r); }
};

BernoulliRows Rows(Napi::Env env, const Napi::Value& x, const Napi::Value& l) {
  BernoulliRows b;
  b.l = Floats(env, l);
  if (b.l.dim() == 0) throw Napi::RangeError::New(env, "bernoulliLogPmf: logits need an axis");
  try {
    b.x = Get(env, x).to(at::kFloat).expand(b.l.sizes());
  } catch (const c10::Error& e) {
    throw Napi::RangeError::New(env, std::string("bernoulliLogPmf: ") + e.what_without_backtrace());
  }
  if (b.x.stride(-1) != 1) b.x = b.x.contiguous();
  b.n = b.l.size(-1);
  b.rows = b.n == 0 ? 0 : b.l.numel() / b.n;
  return b;
}

// Rows per parallel chunk, so that a chunk is about as much work as ATen's grain of 32,768 elements.
int64_t RowGrain(int64_t n) { return std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(n, 1)); }

// bernoulliLogPmf(x, l) -> id of Σ over the last axis of x·l − softplus(l), shape l.shape[:-1].
Napi::Value BernoulliLogPmf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const BernoulliRows b = Rows(env, info[0], info[1]);
  auto sizes = b.l.sizes().vec();
  sizes.pop_back();
  at::Tensor t = b.n == 0 ? at::zeros(sizes, at::kFloat) : at::empty(sizes, at::kFloat);
  float* out = t.data_ptr<float>();
  const float *lp = b.l.data_ptr<float>(), *xp = b.x.data_ptr<float>();
  at::parallel_for(0, b.rows, RowGrain(b.n), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) out[r] = kexue::BernoulliLogPmfRow(xp + b.XOffset(r), lp + r * b.n, b.n);
  });
  return Napi::Number::New(env, static_cast<double>(Put(std::move(t))));
}

// bernoulliLogPmfGrad(dy, x, l) -> id of dl = dy[..., None]·(x − sigmoid(l)), shape of l.
Napi::Value BernoulliLogPmfGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const BernoulliRows b = Rows(env, info[1], info[2]);
  const at::Tensor dy = Floats(env, info[0]);
  if (dy.numel() != b.rows) throw Napi::RangeError::New(env, "bernoulliLogPmfGrad: dy needs one value per row");
  at::Tensor t = at::empty(b.l.sizes(), at::kFloat);
  float* out = t.data_ptr<float>();
  const float *lp = b.l.data_ptr<float>(), *xp = b.x.data_ptr<float>(), *dyp = dy.data_ptr<float>();
  at::parallel_for(0, b.rows, RowGrain(b.n), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      kexue::BernoulliLogPmfGradRow(dyp[r], xp + b.XOffset(r), lp + r * b.n, b.n, out + r * b.n);
  });
  return Napi::Number::New(env, static_cast<double>(Put(std::move(t))));
}

// tanh(x) -> id: kexue::Tanh over a float32 tensor, x's shape.
Napi::Value TanhOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor x = Floats(env, info[0]);
  at::Tensor y = at::empty(x.sizes(), at::kFloat);
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  at::parallel_for(0, x.numel(), kElementGrain, [&](int64_t b, int64_t e) { kexue::Tanh(xp + b, e - b, yp + b); });
  return Napi::Number::New(env, static_cast<double>(Put(std::move(y))));
}

// tanhGrad(dy, y) -> id of dy·(1 − y²), for y = tanh(x) and dy of y's shape.
Napi::Value TanhGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor dy = Floats(env, info[0]), y = Floats(env, info[1]);
  if (dy.sizes() != y.sizes()) throw Napi::RangeError::New(env, "tanhGrad: dy and y differ in shape");
  at::Tensor dx = at::empty(y.sizes(), at::kFloat);
  const float *dp = dy.data_ptr<float>(), *yp = y.data_ptr<float>();
  float* xp = dx.data_ptr<float>();
  at::parallel_for(0, y.numel(), kElementGrain, [&](int64_t b, int64_t e) { kexue::TanhGrad(dp + b, yp + b, e - b, xp + b); });
  return Napi::Number::New(env, static_cast<double>(Put(std::move(dx))));
}

// toData(id) -> Float32Array | Int32Array | Uint8Array (copy)
Napi::Value ToData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor t = Canonical(Get(env, info[0])).contiguous();
  const size_t n = t.numel();
  const size_t bytes = n * t.element_size();
  auto buf = Napi::ArrayBuffer::New(env, bytes);
  if (bytes > 0) std::memcpy(buf.Data(), t.data_ptr(), bytes);
  switch (t.scalar_type()) {
    case at::kFloat: return Napi::Float32Array::New(env, n, buf, 0);
    case at::kInt: return Napi::Int32Array::New(env, n, buf, 0);
    case at::kBool: return Napi::Uint8Array::New(env, n, buf, 0);
    case at::kComplexFloat: return Napi::Float32Array::New(env, 2 * n, buf, 0);
    default: throw Napi::TypeError::New(env, "cannot read dtype");
  }
}

// free(id | ids): one id, or an array of them (a kernel's scratch, in one call).
Napi::Value Free(const Napi::CallbackInfo& info) {
  if (info[0].IsArray()) {
    auto ids = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < ids.Length(); ++i) g_tensors.erase(ids.Get(i).As<Napi::Number>().Int64Value());
  } else {
    g_tensors.erase(info[0].As<Napi::Number>().Int64Value());
  }
  return info.Env().Undefined();
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& t = Get(env, info[0]);
  auto a = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, t.size(i)));
  return a;
}

// shapeIf(id, dtype) -> the shape when the tensor has that dtype, else null: what a kernel's output needs
// checked and read, in one call.
Napi::Value ShapeIf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto& t = Get(env, info[0]);
  if (info[1].As<Napi::String>().Utf8Value() != DtypeName(t.scalar_type())) return env.Null();
  auto a = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, t.size(i)));
  return a;
}

// isContiguous(id): whether the tensor's elements lie in row-major order without gaps (not a strided view).
Napi::Value IsContiguous(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Get(info.Env(), info[0]).is_contiguous());
}

Napi::Value Count(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(g_tensors.size()));
}

// Bytes held by live tensors (a view counts its base storage once per id; an upper bound).
Napi::Value Bytes(const Napi::CallbackInfo& info) {
  double total = 0;
  for (const auto& kv : g_tensors) total += static_cast<double>(kv.second.storage().nbytes());
  return Napi::Number::New(info.Env(), total);
}

// A symbol of the OpenBLAS libtorch loaded, or null when its BLAS is another.
void* OpenBlasSymbol(const char* name) {
  void* lib = dlopen("libopenblas.so.0", RTLD_LAZY | RTLD_NOLOAD);
  if (lib == nullptr) return nullptr;
  void* sym = dlsym(lib, name);
  dlclose(lib);  // drops the reference RTLD_NOLOAD added; the library stays loaded
  return sym;
}

// cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc), from OpenBLAS.
using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

// OpenBLAS's entry points, or nulls when libtorch's BLAS is another.
struct OpenBlas {
  Sgemm sgemm = reinterpret_cast<Sgemm>(OpenBlasSymbol("cblas_sgemm"));
  void (*setThreads)(int) = reinterpret_cast<void (*)(int)>(OpenBlasSymbol("openblas_set_num_threads"));
  int (*getThreads)() = reinterpret_cast<int (*)()>(OpenBlasSymbol("openblas_get_num_threads"));
  bool ok() const { return sgemm != nullptr && setThreads != nullptr && getThreads != nullptr; }
};

const OpenBlas& Blas() {
  static const OpenBlas blas;
  return blas;
}

// Debian's libtorch calls OpenBLAS's pthread build, whose worker pool is sized to the machine and not
// governed by at::set_num_threads; idle workers spin on sched_yield for a while after each call. Sizing it
// with ATen's count makes N threads mean N busy threads (one thread ran two). Nothing to do with another BLAS.
void SetBlasThreads(int n) {
  if (Blas().setThreads != nullptr) Blas().setThreads(n);
}

// OpenBLAS's thread count, or -1 when libtorch's BLAS is not OpenBLAS.
Napi::Value GetBlasThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Blas().getThreads != nullptr ? Blas().getThreads() : -1);
}

// A matrix operand's last two axes as BLAS takes them: rows contiguous (not transposed, leading dimension
// the row stride) or columns contiguous (transposed); false for any other strides.
bool BlasLayout(const at::Tensor& t, bool* trans, int64_t* ld) {
  const int64_t rs = t.stride(-2), cs = t.stride(-1), rows = t.size(-2), cols = t.size(-1);
  if (cs == 1 && rs >= std::max<int64_t>(1, cols)) {
    *trans = false;
    *ld = rs;
    return true;
  }
  if (rs == 1 && cs >= std::max<int64_t>(1, rows)) {
    *trans = true;
    *ld = cs;
    return true;
  }
  return false;
}

// A matrix operand for cblas_sgemm: its data, whether BLAS reads it transposed, and its leading dimension.
struct BlasOperand {
  const float* data;
  bool trans;
  int64_t ld;
  // Rows [r0, ...) of the matrix (as read, after any transpose).
  const float* Rows(int64_t r0) const { return data + (trans ? r0 : r0 * ld); }
  // Columns [c0, ...).
  const float* Cols(int64_t c0) const { return data + (trans ? c0 * ld : c0); }
};

// c (m × n, rows ldc apart) = a·b + beta·c, one product; OpenBlas().ok() must hold. OpenBLAS runs inside on
// one thread; the threads are ours (OpenMP's, already awake for ATen's operators):
// - up to 2^23 multiply-adds, on the calling thread. OpenBLAS threads everything over 2^18, and waking its
//   sleeping workers costs more than the second core gives back at these sizes: 100 × 784 by 784 × 200
//   took 0.30 ms on one thread and 0.37 ms on two, 500 × 50 by 50 × 200 0.10 and 0.14 ms (medians, 200 µs
//   between calls as between a training step's products; scratch C benchmark). Our own split wakes one
//   OpenMP worker, which pays from about 10^7: in the IWAE step, 784 × 100 by 100 × 200 (15.7M) took 0.26–0.28
//   ms split against 0.39 on one thread, while 500 × 50 by 50 × 200 (5M) went from 0.20 to 0.24 ms and
//   100 × 200 by 200 × 200 (4M) from 0.11 to 0.16–0.18 (a limit of 2^20 against 2^24; per-call times);
//   with the limit at 2^23 the step's products took 5.9–6.2 ms against 6.2–6.8 at 2^24 (three alternations);
// - above, its rows (or columns, when it has fewer rows) split over the threads, one single-threaded
//   cblas_sgemm each. OpenBLAS's own threading of 500 × 200 by 200 × 784 took 0.90 ms and this split
//   0.79 ms (same benchmark); the IWAE minibatch's products went from 6.0 to 5.4 ms.
void Gemm(int64_t m, int64_t n, int64_t k, const BlasOperand& a, const BlasOperand& b, float beta, float* c, int64_t ldc) {
  const OpenBlas& blas = Blas();
  const auto block = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    blas.sgemm(kRowMajor, a.trans ? kTrans : kNoTrans, b.trans ? kTrans : kNoTrans, r1 - r0, c1 - c0, k, 1.0f,
               a.Rows(r0), a.ld, b.Cols(c0), b.ld, beta, c + r0 * ldc + c0, ldc);
  };
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  const int threads = blas.getThreads();
  blas.setThreads(1);
  if (macs <= (1 << 23)) {
    block(0, m, 0, n);
  } else if (m >= n) {
    at::parallel_for(0, m, 16, [&](int64_t begin, int64_t end) { block(begin, end, 0, n); });
  } else {
    at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) { block(0, m, begin, end); });
  }
  blas.setThreads(threads);
}

// batchMatmul(a, b, transposeA, transposeB) -> id of a @ b over equal batch axes, or null when it does not
// apply (other dtypes, broadcasting, strides BLAS cannot read, no OpenBLAS, batches of larger products).
// - A batch of small products (≤ 2^18 multiply-adds, which OpenBLAS keeps on the calling thread). ATen's
//   bmm multiplies them one after another on one thread (attention's 128 products of 64 × 64 by 64 × 32:
//   0.5 ms); this splits the batch over the threads, each product one cblas_sgemm on its operands' strides
//   in place, without the copies matmul makes of views.
// - One product of any size: Gemm.
Napi::Value BatchMatmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  at::Tensor a = Get(env, info[0]), b = Get(env, info[1]);
  if (info[2].ToBoolean().Value()) a = a.transpose(-2, -1);
  if (info[3].ToBoolean().Value()) b = b.transpose(-2, -1);
  if (!Blas().ok() || a.scalar_type() != at::kFloat || b.scalar_type() != at::kFloat || a.dim() < 2 ||
      a.dim() != b.dim() || a.sizes().slice(0, a.dim() - 2) != b.sizes().slice(0, b.dim() - 2) ||
      a.size(-1) != b.size(-2))
    return env.Null();
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  const int64_t batch = a.numel() / std::max<int64_t>(1, m * k);
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (batch > 1 && macs > (1 << 18)) return env.Null();
  BlasOperand pa{a.data_ptr<float>(), false, 0}, pb{b.data_ptr<float>(), false, 0};
  if (m == 0 || k == 0 || n == 0 || !BlasLayout(a, &pa.trans, &pa.ld) || !BlasLayout(b, &pb.trans, &pb.ld))
    return env.Null();
  auto sizes = a.sizes().vec();
  sizes.back() = n;
  at::Tensor c = at::empty(sizes, at::kFloat);
  float* pc = c.data_ptr<float>();
  if (batch == 1) {
    Gemm(m, n, k, pa, pb, 0.0f, pc, n);
  } else {
    at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        Blas().sgemm(kRowMajor, pa.trans ? kTrans : kNoTrans, pb.trans ? kTrans : kNoTrans, m, n, k, 1.0f,
                     pa.data + LeadingOffset(a, a, a.dim() - 2, i), pa.ld,
                     pb.data + LeadingOffset(b, b, b.dim() - 2, i), pb.ld, 0.0f, pc + i * m * n, n);
    });
  }
  return Napi::Number::New(env, static_cast<double>(Put(std::move(c))));
}

// A float32 matrix as a BLAS operand: in place when BLAS can read its strides, else a contiguous copy
// (kept alive in `hold`).
BlasOperand Operand(const at::Tensor& t, at::Tensor* hold) {
  *hold = t;
  BlasOperand op{nullptr, false, 0};
  if (!BlasLayout(*hold, &op.trans, &op.ld)) {
    *hold = t.contiguous();
    BlasLayout(*hold, &op.trans, &op.ld);
  }
  op.data = hold->data_ptr<float>();
  return op;
}

// A dense layer's float32 operands x [rows, in] and w [in, out], with their sizes.
struct DenseArgs {
  at::Tensor x, w;
  int64_t rows, in, out;
};

DenseArgs DenseOperands(Napi::Env env, const Napi::Value& x, const Napi::Value& w) {
  DenseArgs d{Get(env, x), Get(env, w), 0, 0, 0};
  if (d.x.scalar_type() != at::kFloat || d.w.scalar_type() != at::kFloat || d.x.dim() != 2 || d.w.dim() != 2 ||
      d.x.size(1) != d.w.size(0))
    throw Napi::RangeError::New(env, "dense: needs float32 x [rows, in] and kernel [in, out]");
  d.rows = d.x.size(0);
  d.in = d.x.size(1);
  d.out = d.w.size(1);
  return d;
}

kexue::Activation ActivationOf(Napi::Env env, const Napi::Value& v) {
  const int a = v.As<Napi::Number>().Int32Value();
  if (a < 0 || a > 3) throw Napi::RangeError::New(env, "dense: activation must be 0-3");
  return static_cast<kexue::Activation>(a);
}

// dense(x, w, b, activation) -> id of act(x·w + b) [rows, out]: one product, then the bias and the
// activation in one pass over it, in place (kexue::BiasActivate). Without OpenBLAS, ATen's mm. (The bias
// in the product's β·c, c's rows first set to b, took longer: ATen's broadcast copy of b into 500 × 200
// took 70 µs, the product 106 µs.)
Napi::Value Dense(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DenseArgs d = DenseOperands(env, info[0], info[1]);
  const at::Tensor b = Floats(env, info[2]);
  const kexue::Activation act = ActivationOf(env, info[3]);
  if (b.dim() != 1 || b.size(0) != d.out) throw Napi::RangeError::New(env, "dense: bias needs shape [out]");
  at::Tensor y;
  if (!Blas().ok() || d.rows == 0 || d.in == 0 || d.out == 0) {
    y = at::mm(d.x, d.w).contiguous();
  } else {
    y = at::empty({d.rows, d.out}, at::kFloat);
    at::Tensor hx, hw;
    Gemm(d.rows, d.out, d.in, Operand(d.x, &hx), Operand(d.w, &hw), 0.0f, y.data_ptr<float>(), d.out);
  }
  float* yp = y.data_ptr<float>();
  const float* bp = b.data_ptr<float>();
  const int64_t grain = std::max<int64_t>(1, kElementGrain / std::max<int64_t>(1, d.out));
  at::parallel_for(0, d.rows, grain, [&](int64_t r0, int64_t r1) { kexue::BiasActivate(act, bp, r0, r1, d.out, yp); });
  return Napi::Number::New(env, static_cast<double>(Put(std::move(y))));
}

// denseGrad(dy, x, w, y, activation) -> [dPre, dW, db]: the gradient through the activation from the
// output y, dPre = dy·act'(y), with db = Σ over rows of dPre in the same pass (kexue::DenseActGrad, columns
// split over the threads), and dW = xᵀ·dPre (Gemm). dx = dPre·wᵀ is left to the caller, who knows whether
// it is wanted (not for a first layer's data). Linear: dPre is dy itself.
Napi::Value DenseGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const at::Tensor dy = Floats(env, info[0]);
  const DenseArgs d = DenseOperands(env, info[1], info[2]);
  const kexue::Activation act = ActivationOf(env, info[4]);
  const at::Tensor y = act == kexue::Activation::kLinear ? dy : Floats(env, info[3]);
  if (dy.dim() != 2 || dy.size(0) != d.rows || dy.size(1) != d.out || y.sizes() != dy.sizes())
    throw Napi::RangeError::New(env, "denseGrad: dy and y need shape [rows, out]");
  at::Tensor dPre = act == kexue::Activation::kLinear ? dy : at::empty(dy.sizes(), at::kFloat);
  at::Tensor db = at::zeros({d.out}, at::kFloat);
  const float *dyp = dy.data_ptr<float>(), *yp = y.data_ptr<float>();
  float *dp = dPre.data_ptr<float>(), *dbp = db.data_ptr<float>();
  const int64_t grain = std::max<int64_t>(1, kElementGrain / std::max<int64_t>(1, d.rows));
  at::parallel_for(0, d.out, grain, [&](int64_t c0, int64_t c1) {
    kexue::DenseActGrad(act, dyp, yp, d.rows, d.out, c0, c1, dp, dbp);
  });
  at::Tensor dw;
  if (!Blas().ok() || d.rows == 0 || d.in == 0 || d.out == 0) {
    dw = at::mm(d.x.t(), dPre).contiguous();
  } else {
    dw = at::empty({d.in, d.out}, at::kFloat);
    at::Tensor hx, hd;
    BlasOperand xt = Operand(d.x, &hx);
    xt.trans = !xt.trans;
    Gemm(d.in, d.out, d.rows, xt, Operand(dPre, &hd), 0.0f, dw.data_ptr<float>(), d.out);
  }
  auto out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(Put(std::move(dPre)))));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(Put(std::move(dw)))));
  out.Set(2u, Napi::Number::New(env, static_cast<double>(Put(std::move(db)))));
  return out;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const int n = info[0].As<Napi::Number>().Int32Value();
  at::set_num_threads(n);
  SetBlasThreads(n);
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value Seed(const Napi::CallbackInfo& info) {
  at::manual_seed(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

// Returns freed heap memory to the OS (glibc), so that RSS readings in leak checks show live memory.
Napi::Value Trim(const Napi::CallbackInfo& info) {
  malloc_trim(0);
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // TF.js ops are out of place: a training step allocates and frees many tensor-sized blocks. glibc serves
  // blocks over 128 KiB with fresh mmaps, so each of them costs page faults; keeping them in the heap for
  // reuse (up to 32 MiB a block, glibc's ceiling on 64-bit: a larger value is refused and left the 128 KiB
  // in place, 500-900 page faults an encoder step; trimmed back past 512 MiB free) removes that cost.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  exports.Set("op", Napi::Function::New(env, Op));
  exports.Set("call", Napi::Function::New(env, Call));
  exports.Set("fromData", Napi::Function::New(env, FromData));
  exports.Set("toData", Napi::Function::New(env, ToData));
  exports.Set("dropoutMask", Napi::Function::New(env, DropoutMask));
  exports.Set("randomNormal", Napi::Function::New(env, RandomNormal));
  exports.Set("bernoulli", Napi::Function::New(env, Bernoulli));
  exports.Set("adamW", Napi::Function::New(env, AdamW));
  exports.Set("batchMatmul", Napi::Function::New(env, BatchMatmul));
  exports.Set("bernoulliLogPmf", Napi::Function::New(env, BernoulliLogPmf));
  exports.Set("bernoulliLogPmfGrad", Napi::Function::New(env, BernoulliLogPmfGrad));
  exports.Set("tanh", Napi::Function::New(env, TanhOp));
  exports.Set("tanhGrad", Napi::Function::New(env, TanhGrad));
  exports.Set("dense", Napi::Function::New(env, Dense));
  exports.Set("denseGrad", Napi::Function::New(env, DenseGrad));
  exports.Set("free", Napi::Function::New(env, Free));
  exports.Set("shape", Napi::Function::New(env, Shape));
  exports.Set("shapeIf", Napi::Function::New(env, ShapeIf));
  exports.Set("isContiguous", Napi::Function::New(env, IsContiguous));
  exports.Set("count", Napi::Function::New(env, Count));
  exports.Set("bytes", Napi::Function::New(env, Bytes));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("getBlasThreads", Napi::Function::New(env, GetBlasThreads));
  exports.Set("seed", Napi::Function::New(env, Seed));
  exports.Set("trim", Napi::Function::New(env, Trim));
  return exports;
}

}  // namespace

NODE_API_MODULE(kexue_aten, Init)
