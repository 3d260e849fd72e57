#!/usr/bin/env bash
# Python side of CI, runnable from any directory: venv (created once, reinstalled only when
# requirements.txt changes), derived assets and test fixtures in the cache (each builder skips
# itself when up to date), then the Python tests.
set -euo pipefail

MODELS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$MODELS")"
CACHE="${DIFFIQA_CACHE:-$ROOT/.cache}"
MIRROR="${DIFFIQA_SHARED:-$ROOT/../shared}"
VENV="$MODELS/.venv"
PY="$VENV/bin/python"

if [ ! -x "$PY" ]; then
  python3 -m venv "$VENV"
fi
hash_of() { "$PY" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }
want="$(hash_of "$MODELS/requirements.txt")"
if [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)" != "$want" ]; then
  "$PY" -m pip install --quiet --disable-pip-version-check -r "$MODELS/requirements.txt"
  echo "$want" > "$VENV/.requirements.sha256"
fi

export PYTHONPATH="$MODELS"
export DIFFIQA_SHARED="$MIRROR"
cd "$ROOT"
"$PY" -m tools.build_embedder --mirror "$MIRROR" --out "$CACHE/models"
"$PY" -m tools.build_fixtures --mirror "$MIRROR" --out "$CACHE/fixtures"
"$PY" -m pytest "$MODELS/tests" -q
