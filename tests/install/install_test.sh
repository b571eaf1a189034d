#!/usr/bin/env bash
# Installs the build tree into a temporary prefix and builds + runs a consumer project against it with
# find_package(mixccl) and with pkg-config. Usage: install_test.sh BUILD_DIR
set -euo pipefail
build="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > "$tmp/install.log"
libdir="$(dirname "$(find "$tmp/prefix" -name 'libmixccl.so*' | head -1)")"
PKG_CONFIG_PATH="$libdir/pkgconfig" cmake -S "$here/consumer" -B "$tmp/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" > "$tmp/configure.log"
cmake --build "$tmp/consumer" > "$tmp/build.log"
LD_LIBRARY_PATH="$libdir" "$tmp/consumer/consumer_cmake"
LD_LIBRARY_PATH="$libdir" "$tmp/consumer/consumer_pkgconfig"
