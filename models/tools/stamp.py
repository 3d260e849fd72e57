"""Up-to-date checks for derived assets: a build is skipped when its stamp records the same
hashes of the generator sources, inputs and options as now."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tools.common import MODELS_DIR, sha256_file

STAMP = '.stamp.json'


def fingerprint(sources: list[Path], options: dict) -> dict:
    digests = {}
    for src in sorted(sources):
        key = str(src.relative_to(MODELS_DIR)) if src.is_relative_to(MODELS_DIR) else str(src)
        digests[key] = sha256_file(src)
    return {'sources': digests, 'options': options}


def is_fresh(out_dir: Path, fp: dict, outputs: list[str]) -> bool:
    stamp = out_dir / STAMP
    if not stamp.is_file() or any(not (out_dir / o).exists() for o in outputs):
        return False
    try:
        return json.loads(stamp.read_text()) == fp
    except json.JSONDecodeError:
        return False


def write_stamp(out_dir: Path, fp: dict) -> None:
    (out_dir / STAMP).write_text(json.dumps(fp, indent=1, sort_keys=True) + '\n')


def tool_sources(*names: str) -> list[Path]:
    """Paths of modules under models/ given as dotted names, e.g. 'tools.common'."""
    return [MODELS_DIR / (n.replace('.', '/') + '.py') for n in names]
