#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (ctest). Ends with ctest's summary; exits non-zero on
# any failure. Usage: scripts/test.sh [extra ctest arguments, e.g. -R Shm]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
"$root/scripts/setup.sh" "$build"
jobs="$(nproc 2>/dev/null || echo 2)"
cd "$build"
ctest --output-on-failure --timeout 600 -j "$jobs" "$@"
