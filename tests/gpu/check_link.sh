#!/usr/bin/env bash
# libmixccl must load on machines without a GPU or a CUDA installation: it may not need libcudart.so (the CUDA
# runtime is linked statically and loads the driver itself) and may not export the runtime's symbols (which
# would interpose on an application's own libcudart). Usage: check_link.sh path/to/libmixccl.so
set -euo pipefail
lib="$1"
needed="$(readelf -d "$lib" | grep NEEDED || true)"
echo "$needed"
if echo "$needed" | grep -qE 'libcudart|libcuda\.so'; then
  echo "check_link: $lib needs a CUDA library at load time" >&2
  exit 1
fi
exported="$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -E '^(cuda|__cuda)' || true)"
if [ -n "$exported" ]; then
  echo "check_link: $lib exports CUDA runtime symbols:" >&2
  echo "$exported" | head >&2
  exit 1
fi
echo "check_link: $lib needs no CUDA library and exports no CUDA runtime symbol"
