#!/usr/bin/env bash
# One-shot GPU check for a host without network that has this repository with node_modules and
# .cache copied in: does onnxruntime-node's CUDA provider load through the product's inference
# pool, and how fast is full DifFIQA at UNet batch sizes 20/80/160 on CUDA against the CPU.
# Finishes in under 5 minutes (the Node part stops starting new runs after --budget-s, 240 s).
#
# Usage: deploy/gpu/check.sh [--cpu-only] [check.mjs options...]
#   --cpu-only  skip everything CUDA (used on CPU hosts to prove the script works up to there)
# Writes to $OUT when set: gpu-check.md, gpu-check.json, gpu-check.log, gpu-env.txt.
# Exit: 0 ok · 1 CUDA did not load or a run failed · 124 the Node part timed out.
#
# Where the CUDA provider comes from, in this order (see deploy/README.md, "GPU hosts"):
#   1. already in node_modules/onnxruntime-node/bin/napi-v6/linux/x64/
#   2. .cache/ort-cuda/<version>/providers/ (deploy/gpu/cuda-ep.sh fetch, run where PyPI is reachable)
#   3. a pip-installed onnxruntime-gpu of the same version on this host
# CUDA 13 user-space libraries: the system's, .cache/ort-cuda/<version>/cuda-lib/, or pip's nvidia/*/lib.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1
CPU_ONLY=0
for a in "$@"; do [[ "$a" == --cpu-only ]] && CPU_ONLY=1; done
OUT_DIR="${OUT:-}"
LOG="$(mktemp)"
say() { echo "check.sh: $*" | tee -a "$LOG" >&2; }

env_report() {
  echo "date: $(date -u +%FT%TZ)"
  echo "kernel: $(uname -srm)"
  echo "node: $(node --version 2>&1)"
  if command -v nvidia-smi >/dev/null; then
    echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n 4 | tr '\n' ';')"
  else
    echo "gpu: nvidia-smi not found"
  fi
  echo "LD_LIBRARY_PATH: ${LD_LIBRARY_PATH:-}"
  # What the CUDA provider of onnxruntime-gpu 1.30 needs (readelf -d, plus cuDNN which it dlopens).
  local lib where
  for lib in libcuda.so.1 libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcufft.so.12 libcudnn.so.9; do
    where="$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l { print $NF; exit }')"
    if [[ -z "$where" ]]; then
      local d
      for d in ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }}; do [[ -e "$d/$lib" ]] && { where="$d/$lib"; break; }; done
    fi
    echo "lib $lib: ${where:-NOT FOUND}"
  done
}

# Providers and libraries a pip-installed onnxruntime-gpu would bring; empty when there is none.
pip_ort_dir() {
  python3 - "$1" 2>/dev/null <<'EOF'
import os, sys
try:
    import onnxruntime
except Exception:
    sys.exit(0)
if onnxruntime.__version__ == sys.argv[1]:
    print(os.path.join(os.path.dirname(onnxruntime.__file__), "capi"))
EOF
}
pip_nvidia_libs() {
  python3 -c 'import glob, os, site; [print(d) for p in site.getsitepackages() for d in glob.glob(os.path.join(p, "nvidia", "*", "lib"))]' 2>/dev/null | paste -sd: -
}

prepare_cuda() {
  local bin="node_modules/onnxruntime-node/bin/napi-v6/linux/x64" ver capi libs
  ver="$(node -p 'require("onnxruntime-node/package.json").version' 2>/dev/null)"
  if deploy/gpu/cuda-ep.sh status 2>>"$LOG"; then
    say "CUDA provider files already in $bin"
  elif deploy/gpu/cuda-ep.sh install 2>>"$LOG"; then
    say "CUDA provider files installed from .cache/ort-cuda/$ver"
  elif capi="$(pip_ort_dir "$ver")" && [[ -n "$capi" && -f "$capi/libonnxruntime_providers_cuda.so" ]]; then
    cp -f "$capi"/libonnxruntime_providers_{shared,cuda}.so "$bin/" && say "CUDA provider files copied from pip's onnxruntime-gpu $ver ($capi)"
  else
    say "no CUDA provider files for onnxruntime-node $ver: see deploy/README.md, GPU hosts"
  fi
  libs="$(deploy/gpu/cuda-ep.sh libpath 2>/dev/null)"
  [[ -n "$libs" ]] && export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" && say "CUDA libraries from $libs"
  libs="$(pip_nvidia_libs)"
  [[ -n "$libs" ]] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$libs" && say "CUDA libraries from pip: $libs"
  return 0
}

if [[ ! -f dist/src/tools/bench/diffusion-throughput.js ]]; then
  say "dist/ missing: building (tsc)"
  node node_modules/typescript/bin/tsc -p tsconfig.json >>"$LOG" 2>&1 || { say "build failed"; cat "$LOG" >&2; exit 1; }
fi
[[ "$CPU_ONLY" == 1 ]] || prepare_cuda
ENV_TXT="$(env_report)"
echo "$ENV_TXT" >&2

MD="$(mktemp)"
JSON_ARGS=()
[[ -n "$OUT_DIR" ]] && mkdir -p "$OUT_DIR" && JSON_ARGS=(--json "$OUT_DIR/gpu-check.json")
# stdout (the table) to a file, stderr (progress) live to the terminal and into the log.
timeout 280 node deploy/gpu/check.mjs "$@" "${JSON_ARGS[@]}" 2>&1 >"$MD" | tee -a "$LOG" >&2
rc=${PIPESTATUS[0]}
[[ $rc == 124 ]] && say "the Node part ran past 280 s and was stopped"
cat "$MD"
if [[ -n "$OUT_DIR" ]]; then
  cp "$MD" "$OUT_DIR/gpu-check.md"
  cp "$LOG" "$OUT_DIR/gpu-check.log"
  echo "$ENV_TXT" >"$OUT_DIR/gpu-env.txt"
fi
rm -f "$MD" "$LOG"
exit "$rc"
