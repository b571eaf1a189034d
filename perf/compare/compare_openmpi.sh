#!/usr/bin/env bash
# compare_openmpi.sh: mixccl all-reduce against Open MPI's MPI_Allreduce on this host, in one run.
#
# Runs, with the same sizes, iterations and timing method (see perf/README.md):
#   mpirun --allow-run-as-root --oversubscribe -np 2 build/perf/mpi_allreduce_bench -b 8 -e 128M -f 2
#   build/perf/all_reduce_perf -N 2 -b 8 -e 128M -f 2 -d float -o sum --memory host
# and prints, per size, the out-of-place busbw and time of both and their ratios (mixccl / Open MPI; busbw
# ratio > 1 and time ratio < 1 mean mixccl is faster). Installs openmpi-bin and libopenmpi-dev with apt-get
# when mpirun or mpicc is missing, and configures/builds what is needed.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/../.." && pwd)"

BUILD_DIR="${REPO_ROOT}/build"
OUT_MD=""
NP=2
MIN_BYTES=8
MAX_BYTES=128M
ITERS=20
WARMUP=5
INSTALL=1
MPIRUN_ARGS=""
REPEAT=3

usage() {
  cat <<USAGE
usage: $(basename "$0") [options]
  --out FILE          also write the table as markdown to FILE
  --build-dir DIR     CMake build directory (default: <repo>/build)
  --np N              ranks (default 2)
  --minbytes SIZE     smallest size (default 8)
  --maxbytes SIZE     largest size (default 128M; K/M/G are powers of 1024)
  --iters N           timed iterations per size (default 20)
  --warmup N          warm-up iterations per size (default 5)
  --mpirun-args ARGS  extra mpirun arguments, e.g. "--bind-to none"
  --repeat N          run the pair N times, alternating (default 3); the table shows medians, and the
                      ratio is the median of the N pairwise ratios (shared machines drift between runs)
  --no-install        fail instead of installing Open MPI with apt-get
  -h, --help          this text
USAGE
}

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT_MD="${2:?--out needs a file}"; shift 2 ;;
    --build-dir) BUILD_DIR="${2:?--build-dir needs a directory}"; shift 2 ;;
    --np) NP="${2:?--np needs a number}"; shift 2 ;;
    --minbytes) MIN_BYTES="${2:?--minbytes needs a size}"; shift 2 ;;
    --maxbytes) MAX_BYTES="${2:?--maxbytes needs a size}"; shift 2 ;;
    --iters) ITERS="${2:?--iters needs a number}"; shift 2 ;;
    --warmup) WARMUP="${2:?--warmup needs a number}"; shift 2 ;;
    --mpirun-args) MPIRUN_ARGS="${2?--mpirun-args needs a value}"; shift 2 ;;
    --repeat) REPEAT="${2:?--repeat needs a number}"; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
[[ "${OUT_MD}" == "" || "${OUT_MD}" == /* ]] || OUT_MD="${PWD}/${OUT_MD}"
[[ "${BUILD_DIR}" == /* ]] || BUILD_DIR="${PWD}/${BUILD_DIR}"

# --- Open MPI -----------------------------------------------------------------------------------------------
if ! command -v mpirun >/dev/null || ! command -v mpicc >/dev/null; then
  [[ "${INSTALL}" == 1 ]] || die "mpirun/mpicc not found (apt-get install openmpi-bin libopenmpi-dev)"
  SUDO=""
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || die "need root or sudo to install openmpi-bin libopenmpi-dev"
    SUDO="sudo"
  fi
  echo "# installing openmpi-bin libopenmpi-dev" >&2
  ${SUDO} apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive ${SUDO} apt-get install -y -q openmpi-bin libopenmpi-dev >&2
fi

# --- build --------------------------------------------------------------------------------------------------
MIXCCL_BIN="${BUILD_DIR}/perf/all_reduce_perf"
MPI_BIN="${BUILD_DIR}/perf/mpi_allreduce_bench"
# Configure when there is no build yet, or when it was configured before MPI was installed (no bench target).
if [[ ! -f "${BUILD_DIR}/CMakeCache.txt" ]] ||
  ! cmake --build "${BUILD_DIR}" --target help 2>/dev/null | grep -q mpi_allreduce_bench; then
  GENERATOR=()
  [[ -f "${BUILD_DIR}/CMakeCache.txt" ]] || ! command -v ninja >/dev/null || GENERATOR=(-G Ninja)
  cmake -S "${REPO_ROOT}" -B "${BUILD_DIR}" "${GENERATOR[@]}" >&2
fi
cmake --build "${BUILD_DIR}" --target all_reduce_perf mpi_allreduce_bench >&2
[[ -x "${MIXCCL_BIN}" ]] || die "${MIXCCL_BIN} was not built"
[[ -x "${MPI_BIN}" ]] || die "${MPI_BIN} was not built (is MPI found by CMake? see the configure output)"

# --- run ----------------------------------------------------------------------------------------------------
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT
SWEEP=(-b "${MIN_BYTES}" -e "${MAX_BYTES}" -f 2 -n "${ITERS}" -w "${WARMUP}")
# shellcheck disable=SC2206  # MPIRUN_ARGS is a list of words on purpose
MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np "${NP}" ${MPIRUN_ARGS})

run_mpi() {  # $1: output file
  "${MPIRUN[@]}" "${MPI_BIN}" "${SWEEP[@]}" >"$1" 2>"${WORK}/mpi.err"
}
echo "# ${REPEAT} x (Open MPI: ${MPIRUN[*]} ${MPI_BIN} ${SWEEP[*]}; then mixccl: ${MIXCCL_BIN} -N ${NP}" \
  "${SWEEP[*]} -d float -o sum)" >&2
for ((i = 1; i <= REPEAT; i++)); do
  if ! run_mpi "${WORK}/mpi.${i}.txt"; then
    # Containers without ptrace rights cannot use CMA single-copy; Open MPI then fails unless told not to try.
    echo "# Open MPI failed; retrying with --mca btl_vader_single_copy_mechanism none:" >&2
    sed 's/^/#   /' "${WORK}/mpi.err" | head -20 >&2
    MPIRUN+=(--mca btl_vader_single_copy_mechanism none)
    run_mpi "${WORK}/mpi.${i}.txt" || die "Open MPI bench failed"
  fi
  "${MIXCCL_BIN}" -N "${NP}" "${SWEEP[@]}" -d float -o sum --memory host >"${WORK}/mixccl.${i}.txt" ||
    die "all_reduce_perf failed"
done

# --- table --------------------------------------------------------------------------------------------------
# Row columns (nccl-tests): 1 size, 2 count, 3 type, 4 redop, 5 root, 6 time, 7 algbw, 8 busbw (out-of-place).
# ROWS: one tab-separated line per size: size, busbw mixccl, busbw MPI, ratio, time mixccl, time MPI, ratio,
# each a median over the runs; the ratios are medians of the pairwise ratios (run i of one against run i of the
# other). Same bytes and busbw factor on both sides, so the busbw ratio is the inverse time ratio (computed from
# the times, which avoids the 2-decimal rounding of small busbw values).
ROWS="$(awk -v runs="${REPEAT}" '
  function median(arr, k,    i, j, t, m) {
    for (i = 1; i <= k; i++) m[i] = arr[i]
    for (i = 2; i <= k; i++) for (j = i; j > 1 && m[j - 1] > m[j]; j--) { t = m[j]; m[j] = m[j - 1]; m[j - 1] = t }
    return (k % 2) ? m[(k + 1) / 2] : (m[k / 2] + m[k / 2 + 1]) / 2
  }
  /^#/ || NF < 8 { next }
  {
    split(FILENAME, parts, "."); run = parts[length(parts) - 1]; mine = FILENAME ~ /mixccl\.[0-9]+\.txt$/
    if (mine) { mt[$1, run] = $6; mb[$1, run] = $8; if (run == 1) order[++n] = $1 }
    else { ot[$1, run] = $6; ob[$1, run] = $8 }
  }
  END {
    for (i = 1; i <= n; i++) {
      s = order[i]; k = 0
      for (r = 1; r <= runs; r++) {
        if (!((s, r) in ot) || !((s, r) in mt) || mt[s, r] <= 0 || ot[s, r] <= 0) continue
        k++; a[k] = mt[s, r]; b[k] = ot[s, r]; c[k] = mb[s, r]; d[k] = ob[s, r]
        bw[k] = ot[s, r] / mt[s, r]; tr[k] = mt[s, r] / ot[s, r]
      }
      if (k == 0) continue
      printf "%s\t%.2f\t%.2f\t%.2f\t", s, median(c, k), median(d, k), median(bw, k)
      printf "%.2f\t%.2f\t%.2f\n", median(a, k), median(b, k), median(tr, k)
    }
  }' "${WORK}"/mixccl.*.txt "${WORK}"/mpi.*.txt)"
[[ -n "${ROWS}" ]] || die "no common sizes in the outputs: $(cat "${WORK}/mixccl.txt" "${WORK}/mpi.txt")"

MACHINE="$(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(uname -sr)"
MPI_VERSION="$(mpirun --version 2>/dev/null | head -1)"
REVISION="$(git -C "${REPO_ROOT}" rev-parse --short HEAD 2>/dev/null || echo unknown)"

echo "# mixccl all_reduce_perf -N ${NP} vs ${MPI_VERSION}: float sum, out-of-place, ${ITERS} iters," \
  "medians of ${REPEAT} alternating runs"
echo "# ${MACHINE}; mixccl ${REVISION}; busbw in GB/s, time in us, ratios mixccl / Open MPI"
printf '%12s %12s %12s %8s %12s %12s %8s\n' size mixccl_busbw ompi_busbw ratio mixccl_us ompi_us ratio
echo "${ROWS}" | awk -F '\t' '{ printf "%12s %12s %12s %8s %12s %12s %8s\n", $1, $2, $3, $4, $5, $6, $7 }'

if [[ -n "${OUT_MD}" ]]; then
  {
    echo "### all-reduce: mixccl vs Open MPI (${NP} ranks, float sum, out-of-place)"
    echo
    echo "- machine: ${MACHINE}"
    echo "- Open MPI: ${MPI_VERSION}; mpirun ${MPIRUN[*]:1}"
    echo "- mixccl: ${REVISION}; all_reduce_perf -N ${NP} ${SWEEP[*]} -d float -o sum --memory host"
    echo "- ${REPEAT} runs of each, alternating; values are medians, ratios are medians of the pairwise ratios"
    echo "- ratios are mixccl / Open MPI (busbw ratio > 1 and time ratio < 1: mixccl faster)"
    echo
    echo "| size (B) | mixccl busbw (GB/s) | Open MPI busbw (GB/s) | busbw ratio" \
      "| mixccl time (us) | Open MPI time (us) | time ratio |"
    echo "|---:|---:|---:|---:|---:|---:|---:|"
    echo "${ROWS}" | awk -F '\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }'
  } >"${OUT_MD}.tmp"
  mv "${OUT_MD}.tmp" "${OUT_MD}"
  echo "# markdown written to ${OUT_MD}" >&2
fi
