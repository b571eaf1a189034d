#!/usr/bin/env bash
# PyTorch DDP on mixccl's libnccl.so.2 (issue 6, item 5). For N = 2 and 4 ranks on ONE GPU: torch_ddp.py runs
# under torchrun with backend "gloo" (reference) and with backend "nccl" with mixccl's libnccl.so.2 preloaded; the
# two loss curves must agree to fp32 round-off. Usage: run_torch_ddp.sh BUILD_DIR [N...]
# With MIXCCL_TORCH_REFERENCE_DIR set, the gloo curves are kept there (gloo_N.json) and reused by later runs with the
# same N (the reference does not depend on mixccl's settings: tests/gpu/run.sh runs this script twice).
# Exit 77 (ctest: skipped), with the reason printed, where PyTorch, torchrun or a GPU is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:?usage: run_torch_ddp.sh BUILD_DIR [N...]}" && pwd)"
shift
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(2 4)
lib="$build/nccl/libnccl.so.2"
python="${PYTHON:-python3}"

skip() { echo "SKIPPED: $*"; exit 77; }
[ -e "$lib" ] || { echo "FAILED: $lib was not built"; exit 1; }
command -v "$python" >/dev/null || skip "no $python"
"$python" -c "import torch" 2>/dev/null || skip "PyTorch is not installed for $python"
command -v torchrun >/dev/null || skip "torchrun is not on PATH"
"$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() and torch.cuda.device_count() > 0 else 1)" \
  2>/dev/null || skip "no CUDA GPU visible to PyTorch"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
ref_dir="${MIXCCL_TORCH_REFERENCE_DIR:-}"
[ -z "$ref_dir" ] || mkdir -p "$ref_dir"
for n in "${sizes[@]}"; do
  if [ -n "$ref_dir" ] && [ -s "$ref_dir/gloo_$n.json" ]; then
    echo "== $n ranks: gloo (reference), kept from an earlier run in $ref_dir"
    cp "$ref_dir/gloo_$n.json" "$work/gloo_$n.json"
  else
    echo "== $n ranks: gloo (reference)"
    timeout 600 torchrun --standalone --nproc_per_node="$n" "$here/torch_ddp.py" \
      --backend gloo --out "$work/gloo_$n.json"
    if [ -n "$ref_dir" ]; then  # kept only once whole, so a later run never reads half a curve
      cp "$work/gloo_$n.json" "$ref_dir/gloo_$n.json.tmp"
      mv "$ref_dir/gloo_$n.json.tmp" "$ref_dir/gloo_$n.json"
    fi
  fi
  echo "== $n ranks: nccl = mixccl's $lib, all on GPU 0"
  LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}" timeout 600 torchrun --standalone --nproc_per_node="$n" \
    "$here/torch_ddp.py" --backend nccl --out "$work/nccl_$n.json" --expect-lib "$lib"
  "$python" - "$work/gloo_$n.json" "$work/nccl_$n.json" <<'PY' || status=1
import json, sys
ref, got = (json.load(open(p))["losses"] for p in sys.argv[1:3])
if len(ref) != len(got):
    sys.exit(f"loss curves have {len(ref)} and {len(got)} points")
# fp32 round-off: the CPU and GPU compute the same fp32 operations in different orders.
bad = [(i, a, b) for i, (a, b) in enumerate(zip(ref, got)) if abs(a - b) > 1e-5 + 1e-4 * abs(a)]
for i, a, b in bad:
    print(f"step {i}: gloo loss {a:.8g}, nccl (mixccl) loss {b:.8g}")
print(f"{len(ref)} steps, first loss {ref[0]:.6g}, last {ref[-1]:.6g}: " + ("MISMATCH" if bad else "curves agree"))
sys.exit(1 if bad else 0)
PY
done
[ $status = 0 ] && echo "torch DDP on mixccl: loss curves match gloo for ${sizes[*]} ranks"
exit $status
