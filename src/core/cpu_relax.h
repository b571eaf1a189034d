#pragma once
// A hint to the CPU inside a spin-wait loop (x86 `pause`, Arm `yield`): less power, and the sibling hyper-thread gets
// the core. Nothing on other architectures.

namespace mixccl {

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace mixccl
