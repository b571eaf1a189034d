#include "device/cpu/cpu_copy.h"

#include <cstdint>
#include <cstring>

#include "device/cpu/cpu_reduce.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace mixccl {
namespace {

constexpr size_t kVectorCopyMin = 4096;  // below this memcpy's small-size paths are best

#if defined(__x86_64__)
__attribute__((target("avx2"))) void copyAvx2(char* dst, const char* src, size_t bytes) {
  size_t i = 0;
  for (; i + 128 <= bytes; i += 128) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32));
    __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 64));
    __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 96));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), a);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 32), b);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 64), c);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 96), d);
  }
  if (i < bytes) memcpy(dst + i, src + i, bytes - i);
}

void copySse2(char* dst, const char* src, size_t bytes) {
  size_t i = 0;
  for (; i + 64 <= bytes; i += 64) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 32));
    __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i + 48));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), a);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 16), b);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 32), c);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i + 48), d);
  }
  if (i < bytes) memcpy(dst + i, src + i, bytes - i);
}
#endif

}  // namespace

void cpuCopy(void* dst, const void* src, size_t bytes) {
#if defined(__x86_64__)
  if (bytes >= kVectorCopyMin) {
    static const bool avx2 = cpuBestIsa() == CpuIsa::kAvx2;
    if (avx2) {
      copyAvx2(static_cast<char*>(dst), static_cast<const char*>(src), bytes);
    } else {
      copySse2(static_cast<char*>(dst), static_cast<const char*>(src), bytes);
    }
    return;
  }
#endif
  memcpy(dst, src, bytes);
}

}  // namespace mixccl
