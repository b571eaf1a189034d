#pragma once
// Definitions of the entry points of gpu_kernels.h for the build that includes this file (namespace
// MIXCCL_GPU_NS). Included by exactly one translation unit per build: src/device/cuda/cuda_kernels.cu,
// src/device/hip/hip_kernels.hip and the host emulation of the unit tests.
#include "device/kernels/flag_kernels.h"
#include "device/kernels/fused_direct_kernel.h"
#include "device/kernels/gpu_kernels.h"
#include "device/kernels/gpu_portability.h"
#include "device/kernels/one_shot_kernel.h"
#include "device/kernels/reduce_kernels.h"
#include "device/kernels/reduce_ops.h"
#include "device/kernels/step_server_kernel.h"

#include <algorithm>
#include <type_traits>

namespace mixccl::kernels::MIXCCL_GPU_NS {
namespace {

LaunchShape resolveShape(LaunchShape shape, size_t work) {
  if (shape.threads == 0) shape.threads = kThreadsPerBlock;
  if (shape.blocks == 0) {
    size_t blocks = (work + shape.threads - 1) / shape.threads;
    shape.blocks = unsigned(blocks == 0 ? 1 : (blocks < kMaxBlocks ? blocks : kMaxBlocks));
  }
  return shape;
}

template <typename C, typename Op, bool kDiv>
int launchTyped(void* dst, const void* a, const void* b, size_t n, uint32_t divisor, void* stream, LaunchShape shape) {
  using S = typename C::Store;
  Split split = splitFor(n, sizeof(S), dst, a, b);
  // One thread per pack in the body, per element elsewhere.
  size_t work = split.packs + (n - split.packs * Pack<S>::kCount);
  shape = resolveShape(shape, work);
  auto kernel = reduceKernel<C, Op, kDiv>;  // a name without commas, for the launch macro
  (void)gpuLastError();                     // a stale error of an earlier call (already reported) is not ours
  MIXCCL_GPU_LAUNCH(kernel, shape.blocks, shape.threads, stream, static_cast<S*>(dst), static_cast<const S*>(a),
                    static_cast<const S*>(b), n, split, divisor);
  return gpuLastError();
}

template <typename C, typename Op>
int launchOp(void* dst, const void* a, const void* b, size_t n, uint32_t divisor, void* stream, LaunchShape shape) {
  return divisor > 1 ? launchTyped<C, Op, true>(dst, a, b, n, divisor, stream, shape)
                     : launchTyped<C, Op, false>(dst, a, b, n, divisor, stream, shape);
}

// Calls f.template operator()<Codec>() for the codec of dt; kInvalidSpec if dt is not a data type. (A generic
// lambda with an explicit template parameter list is C++20; this is the C++17 spelling.)
template <typename F>
int withCodec(mixcclDataType_t dt, F&& f) {
  switch (dt) {
    case mixcclInt8: return f(NativeCodec<int8_t>{});
    case mixcclUint8: return f(NativeCodec<uint8_t>{});
    case mixcclInt32: return f(NativeCodec<int32_t>{});
    case mixcclUint32: return f(NativeCodec<uint32_t>{});
    case mixcclInt64: return f(NativeCodec<int64_t>{});
    case mixcclUint64: return f(NativeCodec<uint64_t>{});
    case mixcclFloat16: return f(HalfCodec{});
    case mixcclFloat32: return f(NativeCodec<float>{});
    case mixcclFloat64: return f(NativeCodec<double>{});
    case mixcclBfloat16: return f(Bf16Codec{});
    case mixcclFloat8e4m3: return f(Fp8e4m3Codec{});
    case mixcclFloat8e5m2: return f(Fp8e5m2Codec{});
    default: return kInvalidSpec;
  }
}

// Calls go(op, std::integral_constant<bool, divide>) for the operator and division of `spec`; kInvalidSpec for an
// operator the kernels do not have.
template <typename Go>
int withOpAndDivision(const ReduceSpec& spec, Go&& go) {
  auto withDiv = [&](auto op) -> int {
    return spec.divisor > 1 ? go(op, std::true_type{}) : go(op, std::false_type{});
  };
  switch (spec.op) {
    case mixcclSum: return withDiv(SumOp{});
    case mixcclProd: return withDiv(ProdOp{});
    case mixcclMax: return withDiv(MaxOp{});
    case mixcclMin: return withDiv(MinOp{});
    default: return kInvalidSpec;
  }
}

}  // namespace

int launchReduce(void* dst, const void* a, const void* b, size_t count, const ReduceSpec& spec, void* stream,
                 LaunchShape shape) {
  return withCodec(spec.dtype, [&](auto codec) -> int {
    using C = decltype(codec);
    if (count == 0) return 0;
    switch (spec.op) {
      case mixcclSum: return launchOp<C, SumOp>(dst, a, b, count, spec.divisor, stream, shape);
      case mixcclProd: return launchOp<C, ProdOp>(dst, a, b, count, spec.divisor, stream, shape);
      case mixcclMax: return launchOp<C, MaxOp>(dst, a, b, count, spec.divisor, stream, shape);
      case mixcclMin: return launchOp<C, MinOp>(dst, a, b, count, spec.divisor, stream, shape);
      default: return kInvalidSpec;
    }
  });
}

int launchPostOp(void* dst, const void* src, size_t count, const ReduceSpec& spec, void* stream, LaunchShape shape) {
  return withCodec(spec.dtype, [&](auto codec) -> int {
    using C = decltype(codec);
    if (count == 0) return 0;
    if (spec.divisor > 1) return launchTyped<C, KeepOp, true>(dst, src, src, count, spec.divisor, stream, shape);
    if (dst == src) return 0;
    return launchCopy(dst, src, count * sizeof(typename C::Store), stream, shape);
  });
}

int launchCopy(void* dst, const void* src, size_t bytes, void* stream, LaunchShape shape) {
  if (bytes == 0 || dst == src) return 0;
  Split split = splitFor(bytes, 1, dst, src, nullptr);
  shape = resolveShape(shape, split.packs + (bytes - split.packs * kPackBytes));
  (void)gpuLastError();
  MIXCCL_GPU_LAUNCH(copyKernel, shape.blocks, shape.threads, stream, static_cast<uint8_t*>(dst),
                    static_cast<const uint8_t*>(src), bytes, split);
  return gpuLastError();
}

int launchWriteFlag(uint32_t* flag, uint32_t value, void* stream) {
  (void)gpuLastError();
  MIXCCL_GPU_LAUNCH(writeFlagKernel, 1, 1, stream, flag, value);
  return gpuLastError();
}

int launchReduceN(void* dst, const void* const* srcs, int n, size_t count, const ReduceSpec& spec, void* stream,
                  LaunchShape shape) {
  if (n < 1 || n > kMaxReduceInputs) return kInvalidSpec;
  return withCodec(spec.dtype, [&](auto codec) -> int {
    using C = decltype(codec);
    using S = typename C::Store;
    if (count == 0) return 0;
    ReduceInputs<S> in{};
    for (int r = 0; r < n; ++r) in.p[r] = static_cast<const S*>(srcs[r]);
    shape = resolveShape(shape, count);
    auto go = [&](auto op, auto div) -> int {
      using Op = decltype(op);
      auto kernel = reduceNKernel<C, Op, decltype(div)::value>;
      (void)gpuLastError();
      MIXCCL_GPU_LAUNCH(kernel, shape.blocks, shape.threads, stream, static_cast<S*>(dst), in, n, count,
                        spec.divisor);
      return gpuLastError();
    };
    return withOpAndDivision(spec, go);
  });
}

int launchReduceToAll(const uint32_t* const* words, int n, size_t lo, size_t count, const ReduceSpec& spec,
                      void* stream) {
  if (n < 1 || n > kMaxReduceInputs) return kInvalidSpec;
  return withCodec(spec.dtype, [&](auto codec) -> int {
    using C = decltype(codec);
    if (count == 0) return 0;
    DirectTable table{};
    for (int r = 0; r < n; ++r) table.words[r] = words[r];
    const LaunchShape shape = resolveShape({}, count / Pack<typename C::Store>::kCount + 1);  // a thread per pack
    auto go = [&](auto op, auto div) -> int {
      auto kernel = reduceToAllKernel<C, decltype(op), decltype(div)::value>;
      (void)gpuLastError();
      MIXCCL_GPU_LAUNCH(kernel, shape.blocks, shape.threads, stream, table, n, lo, count, spec.divisor);
      return gpuLastError();
    };
    return withOpAndDivision(spec, go);
  });
}

int launchFused(const FusedArgs& args, const ReduceSpec& spec, void* stream) {
  if (args.n < 1 || args.n > kFusedMaxRanks || args.me < 0 || args.me >= args.n) return kInvalidSpec;
#if MIXCCL_GPU_DEVICE_CODE
  const unsigned threads = kFusedThreads;
#else
  const unsigned threads = 1;  // the host build's block primitives are those of one thread
#endif
  return withCodec(spec.dtype, [&](auto codec) -> int {
    using C = decltype(codec);
    auto go = [&](auto op, auto div) -> int {
      if (args.kind == FusedKind::kOneShot) {
        auto kernel = oneShotKernel<C, decltype(op), decltype(div)::value>;
        (void)gpuLastError();
        MIXCCL_GPU_LAUNCH(kernel, 1, threads, stream, args, spec.divisor);
        return gpuLastError();
      }
      auto kernel = fusedDirectKernel<C, decltype(op), decltype(div)::value>;
      // The ranks' blocks wait for each other (fused_direct_kernel.h): all of them resident at once, and at least
      // one multiprocessor left free of them. At least one block per rank even where that cannot hold.
      int processors = 0, perProcessor = 0;
      const int rc = gpuDeviceBlocks(kernel, threads, &processors, &perProcessor);
      if (rc != 0) return rc;
      const size_t n = size_t(args.n), shard = args.count / n + 1;
      size_t blocks = resolveShape({}, shard / Pack<typename C::Store>::kCount + 1).blocks;  // a thread per pack
      const size_t spare = size_t(processors > 1 ? processors - 1 : 1);
      blocks = std::min({blocks, spare / n, size_t(processors) * size_t(perProcessor) / n});
      (void)gpuLastError();
      MIXCCL_GPU_LAUNCH(kernel, unsigned(std::max<size_t>(blocks, 1)), threads, stream, args, spec.divisor);
      return gpuLastError();
    };
    return withOpAndDivision(spec, go);
  });
}

int preloadKernels() {
  int first = 0;
  auto keep = [&first](int rc) {
    if (first == 0) first = rc;
  };
  for (mixcclDataType_t dt : {mixcclInt8, mixcclUint8, mixcclInt32, mixcclUint32, mixcclInt64, mixcclUint64,
                              mixcclFloat16, mixcclFloat32, mixcclFloat64, mixcclBfloat16, mixcclFloat8e4m3,
                              mixcclFloat8e5m2}) {
    withCodec(dt, [&](auto codec) -> int {
      using C = decltype(codec);
      auto both = [&](auto op) {
        using Op = decltype(op);
        keep(gpuPreload(reduceKernel<C, Op, false>));
        keep(gpuPreload(reduceKernel<C, Op, true>));
        keep(gpuPreload(reduceNKernel<C, Op, false>));
        keep(gpuPreload(reduceNKernel<C, Op, true>));
        keep(gpuPreload(reduceToAllKernel<C, Op, false>));
        keep(gpuPreload(reduceToAllKernel<C, Op, true>));
        keep(gpuPreload(oneShotKernel<C, Op, false>));
        keep(gpuPreload(oneShotKernel<C, Op, true>));
        keep(gpuPreload(fusedDirectKernel<C, Op, false>));
        keep(gpuPreload(fusedDirectKernel<C, Op, true>));
      };
      both(SumOp{});
      both(ProdOp{});
      both(MaxOp{});
      both(MinOp{});
      keep(gpuPreload(reduceKernel<C, KeepOp, true>));
      return 0;
    });
  }
  keep(gpuPreload(copyKernel));
  keep(gpuPreload(stepServerKernel));
  keep(gpuPreload(waitFlagKernel));
  keep(gpuPreload(writeFlagKernel));
  return first;
}

int launchStepServer(StepQueue* queue, uint64_t* counter, uint32_t ticket, void* stream) {
#if MIXCCL_GPU_DEVICE_CODE
  const unsigned blocks = kStepServerBlocks, threads = kStepServerThreads;
#else
  const unsigned blocks = 1, threads = 1;  // the host build's block primitives are those of one thread
#endif
  (void)gpuLastError();
  MIXCCL_GPU_LAUNCH(stepServerKernel, blocks, threads, stream, queue, counter, ticket);
  return gpuLastError();
}

int launchWaitFlag(const uint32_t* flag, uint32_t value, void* stream) {
  (void)gpuLastError();
  MIXCCL_GPU_LAUNCH(waitFlagKernel, 1, 1, stream, flag, value);
  return gpuLastError();
}

}  // namespace mixccl::kernels::MIXCCL_GPU_NS
