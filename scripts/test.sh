#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (ctest). Ends with ctest's summary; exits non-zero on
# any failure. Usage: scripts/test.sh [extra ctest arguments, e.g. -R Shm]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
"$root/scripts/setup.sh" "$build"
jobs="$(nproc 2>/dev/null || echo 2)"
cd "$build"
# A test rank that the harness kills for hanging first writes its threads' stacks here (tests/support/rank_runner.cc).
MIXCCL_STACKS_DIR="$(mktemp -d)"
export MIXCCL_STACKS_DIR
trap 'rm -rf "$MIXCCL_STACKS_DIR"' EXIT
ctest --output-on-failure --timeout 600 -j "$jobs" "$@"
