#!/usr/bin/env bash
# Installs the Debian packages mixccl needs to build and test (only those missing), then configures and builds.
# Usage: scripts/setup.sh [build-dir]   (default: build)
# Environment: MIXCCL_CMAKE_ARGS (extra cmake arguments), MIXCCL_SKIP_APT=1 (do not install anything).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"

# Required to build and test; the network transports (UCX, libfabric) and their reference tools; Open MPI for
# the perf comparison.
packages=(build-essential cmake ninja-build pkg-config libgtest-dev googletest libbenchmark-dev
          libucx-dev ucx-utils libfabric-dev libfabric-bin libhwloc-dev
          openmpi-bin libopenmpi-dev iproute2 procps)
# The HIP backend's compiler and runtime (Debian 12: ROCm 5.2, ~250 MB installed). Optional: when they cannot be
# installed, MIXCCL_WITH_HIP=AUTO builds without HIP and the reason is printed. The CUDA backend needs the CUDA
# toolkit, which is not a Debian package here: it is found in /usr/local/cuda (MIXCCL_WITH_CUDA=AUTO).
optional_packages=(hipcc libamdhip64-dev)

if [ "${MIXCCL_SKIP_APT:-0}" != 1 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    updated=1
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  missing=()
  for p in "${optional_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]} (optional: the HIP backend)"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    [ "${updated:-0}" = 1 ] || $sudo_cmd apt-get update -qq || true
    if ! DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
      echo "setup: could not install ${missing[*]}: the HIP backend will not be built (MIXCCL_WITH_HIP=AUTO)" >&2
    fi
  fi
fi

jobs="$(nproc 2>/dev/null || echo 2)"
# shellcheck disable=SC2086
cmake -S "$root" -B "$build" -G Ninja ${MIXCCL_CMAKE_ARGS:-}
cmake --build "$build" -j "$jobs"
