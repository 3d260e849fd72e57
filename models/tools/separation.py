"""How well each cached quality score tells clean faces from each kind of damage, on a camera-like
evaluation set (tools.make_evalset): per scorer and kind, the AUC of "clean scores higher than
damaged" (1.0: every clean face above every damaged one; 0.5: no separation) and the mean score.

    PYTHONPATH=models python -m tools.separation --set .cache/evalsets/lfw-heldout-cam --cache .cache/eval/<hash>

Reads <cache>/index.json (file -> row) and <cache>/scores/*.f32 (NaN = not computed), written by
`diffiqa-gate evaluate`, and <set>/manifest.json (file -> kind). Prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(pos > neg) + P(tie)/2 over all pairs (Mann-Whitney U / |pos||neg|)."""
    if not len(pos) or not len(neg):
        return float('nan')
    both = np.concatenate([pos, neg])
    order = both.argsort(kind='mergesort')
    ranks = np.empty(len(both))
    ranks[order] = np.arange(1, len(both) + 1)
    for v in np.unique(both):                        # average ranks of ties
        tie = both == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def table(set_dir: Path, cache: Path) -> str:
    kinds = {f: rec['kind'] for f, rec in json.loads((set_dir / 'manifest.json').read_text())['files'].items()}
    rows = json.loads((cache / 'index.json').read_text())['files']
    row_kind = {rec['row']: kinds[f] for f, rec in rows.items() if isinstance(rec, dict) and 'row' in rec and f in kinds}
    order = sorted({k for k in row_kind.values() if k != 'clean'})
    lines = ['| scorer | faces | ' + ' | '.join(order) + ' |', '| --- | ---: |' + ' ---: |' * len(order)]
    for f32 in sorted((cache / 'scores').glob('*.f32')):
        s = np.fromfile(f32, np.float32)
        name = json.loads(f32.with_suffix('.json').read_text())['scorer']
        ok = {r: k for r, k in row_kind.items() if r < len(s) and np.isfinite(s[r])}
        clean = np.array([s[r] for r, k in ok.items() if k == 'clean'])
        cells = [f'{auc(clean, np.array([s[r] for r, k2 in ok.items() if k2 == k])):.3f}' for k in order]
        lines.append(f'| {name} | {len(ok)} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--set', type=Path, required=True)
    ap.add_argument('--cache', type=Path, required=True)
    args = ap.parse_args(argv)
    print(f'AUC (clean above damaged) per kind; set {args.set.name}')
    print(table(args.set, args.cache))
    return 0


if __name__ == '__main__':
    sys.exit(main())
