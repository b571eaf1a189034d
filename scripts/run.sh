#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs an all-reduce sweep on this machine
# (4 host-memory ranks; GPU ranks arrive with the GPU backends).
# Usage: scripts/run.sh [extra all_reduce_perf flags]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build"
"$root/scripts/setup.sh" "$build"
echo "run: 4 host-memory ranks, all-reduce 8 B .. 128 MiB (float sum)"
exec "$build/perf/all_reduce_perf" -N 4 -b 8 -e 128M -f 2 "$@"
