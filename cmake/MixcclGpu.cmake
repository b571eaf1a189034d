# GPU backends (src/device/cuda, src/device/hip): compilers, architectures and link dependencies.
# Included from the top-level CMakeLists.txt after the features are detected. Defines:
#   MIXCCL_DEVICE_LIBS  what every target holding the library's objects links (kernels + vendor runtimes).
#
# CUDA: the CUDA language with nvcc from the toolkit that MIXCCL_WITH_CUDA found (/usr/local/cuda works without
# PATH). Architectures: MIXCCL_CUDA_ARCHITECTURES (default 90 = sm_90 code for H100 plus compute_90 PTX, which
# the driver JIT-compiles for newer GPUs). The runtime is linked statically (libcudart_static): libmixccl then
# depends on no CUDA library at load time, loads the driver (libcuda.so.1) itself on first use, and reports
# "no device" where there is no driver; device pointers and streams interoperate with an application's own
# (shared) runtime because both sit on the same driver context.
#
# HIP: CMake's HIP language needs a ROCm layout that Debian's hipcc does not have, so the kernel source is
# compiled by hipcc through a custom command into a static library; the backend itself is host C++ against
# libamdhip64 (Debian: hipcc libamdhip64-dev, ROCm 5.2). Offload targets: MIXCCL_HIP_ARCHITECTURES (default
# gfx90a;gfx940 = MI200, MI300; ROCm 5.2's compiler does not know gfx942).
set(MIXCCL_DEVICE_LIBS "")

if(MIXCCL_HAVE_CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    set(CMAKE_CUDA_COMPILER "${CUDAToolkit_NVCC_EXECUTABLE}")
  endif()
  if(NOT CMAKE_CUDA_HOST_COMPILER)
    set(CMAKE_CUDA_HOST_COMPILER "${CMAKE_CXX_COMPILER}")
  endif()
  set(MIXCCL_CUDA_ARCHITECTURES "90" CACHE STRING "CUDA architectures of the kernels (CMAKE_CUDA_ARCHITECTURES syntax)")
  set(CMAKE_CUDA_ARCHITECTURES "${MIXCCL_CUDA_ARCHITECTURES}")
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)  # the kernels are the C++17 subset hipcc also compiles (and CMake 3.25 knows)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  set(CMAKE_CUDA_EXTENSIONS OFF)
  set(CMAKE_CUDA_FLAGS_RELWITHDEBINFO "-O3 -DNDEBUG")  # no -G/-lineinfo: host -g only via -Xcompiler below

  add_library(mixccl_cuda_kernels STATIC ${PROJECT_SOURCE_DIR}/src/device/cuda/cuda_kernels.cu)
  target_include_directories(mixccl_cuda_kernels PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
  # Arithmetic exactly as the CPU backend: IEEE division, no FMA contraction, no flush to zero.
  target_compile_options(mixccl_cuda_kernels PRIVATE -ftz=false -prec-div=true -prec-sqrt=true -fmad=false
                         "SHELL:--compiler-options -Wall,-Wextra,-Wno-unused-parameter" -Werror=all-warnings)
  list(APPEND MIXCCL_DEVICE_LIBS mixccl_cuda_kernels CUDA::cudart_static)
endif()

if(MIXCCL_HAVE_HIP)
  set(MIXCCL_HIP_ARCHITECTURES "gfx90a;gfx940" CACHE STRING "HIP offload targets of the kernels")
  set(hip_src ${PROJECT_SOURCE_DIR}/src/device/hip/hip_kernels.hip)
  set(hip_obj ${CMAKE_CURRENT_BINARY_DIR}/src/device/hip/hip_kernels.o)
  set(hip_flags -x hip -std=c++17 -O3 -fPIC -Wall -Wextra -Wno-unused-parameter -Werror
                -fno-gpu-flush-denormals-to-zero -ffp-contract=off -fhip-fp32-correctly-rounded-divide-sqrt)
  foreach(arch ${MIXCCL_HIP_ARCHITECTURES})
    list(APPEND hip_flags --offload-arch=${arch})
  endforeach()
  add_custom_command(
    OUTPUT ${hip_obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/src/device/hip
    COMMAND ${MIXCCL_HIPCC} ${hip_flags} -I${PROJECT_SOURCE_DIR}/include -I${PROJECT_SOURCE_DIR}/src
            -MD -MF ${hip_obj}.d -c ${hip_src} -o ${hip_obj}
    DEPENDS ${hip_src}
    DEPFILE ${hip_obj}.d
    COMMENT "hipcc: HIP kernels (${MIXCCL_HIP_ARCHITECTURES})"
    VERBATIM)
  set_source_files_properties(${hip_obj} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
  add_library(mixccl_hip_kernels STATIC ${hip_obj})
  set_target_properties(mixccl_hip_kernels PROPERTIES LINKER_LANGUAGE CXX)
  list(APPEND MIXCCL_DEVICE_LIBS mixccl_hip_kernels ${MIXCCL_AMDHIP64})
endif()
