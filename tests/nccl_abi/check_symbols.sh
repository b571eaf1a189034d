#!/usr/bin/env bash
# Every function PyTorch 2.11's libtorch_cuda.so imports from NCCL, and the rest of the public nccl.h 2.28 API,
# must be exported by libnccl.so.2 (and each as pnccl<Name>). Usage: check_symbols.sh path/to/libnccl.so.2
set -euo pipefail
lib="$1"
want="ncclAllGather ncclAllReduce ncclAlltoAll ncclBcast ncclBroadcast ncclCommAbort ncclCommCount
ncclCommDeregister ncclCommDestroy ncclCommFinalize ncclCommGetAsyncError ncclCommInitAll ncclCommInitRank
ncclCommInitRankConfig ncclCommInitRankScalable ncclCommRegister ncclCommShrink ncclCommSplit ncclCommUserRank
ncclCommWindowDeregister ncclCommWindowRegister ncclDevCommCreate ncclDevCommDestroy ncclGetErrorString
ncclGetLastError ncclGetUniqueId ncclGetVersion ncclGroupEnd ncclGroupSimulateEnd ncclGroupStart ncclMemAlloc
ncclMemFree ncclRecv ncclRedOpCreatePreMulSum ncclRedOpDestroy ncclReduce ncclReduceScatter ncclSend
ncclCommCuDevice ncclGather ncclScatter ncclCommRevoke ncclResetDebugInit"
have="$(nm -D --defined-only "$lib" | awk '{print $3}')"
missing=0
for s in $want; do
  for name in "$s" "p$s"; do
    if ! grep -qx "$name" <<<"$have"; then echo "missing: $name"; missing=$((missing + 1)); fi
  done
done
soname="$(objdump -p "$lib" | awk '/SONAME/ {print $2}')"
[ "$soname" = "libnccl.so.2" ] || { echo "SONAME is '$soname', not libnccl.so.2"; missing=$((missing + 1)); }
[ $missing = 0 ] && echo "all $(wc -w <<<"$want") functions (and their pnccl aliases) exported; SONAME $soname"
[ $missing = 0 ]
