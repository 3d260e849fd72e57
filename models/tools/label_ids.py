"""Merges `label` outputs (JSON lines {"i", "score", "std"} by face index) into one file keyed by
reproducible crop ids (tools.train_ediffiqa.crop_id: source file, degradation, parameters), sorted
by index: the form the repository keeps, so a new machine rebuilds the set and resumes instead of
recomputing hours of full DifFIQA.

    PYTHONPATH=models python -m tools.label_ids --data .cache/datasets/trainset \
        --out models/own/labels/trainset-diffiqa.jsonl a.jsonl b.jsonl
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from tools.train_ediffiqa import crop_id


def merge(data: Path, sources: list[Path]) -> list[dict]:
    items = json.loads((data / 'index.json').read_text())['items']
    by_index: dict[int, dict] = {}
    for src in sources:
        for n, line in enumerate(src.read_text().splitlines(), 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            i = int(rec['i'])
            if not 0 <= i < len(items):
                raise ValueError(f'{src}:{n}: face index {i} outside the set ({len(items)} faces)')
            score = rec.get('score')
            if isinstance(score, (int, float)) and math.isfinite(score):
                by_index[i] = {'i': i, 'id': crop_id(items[i]), 'score': score, 'std': rec.get('std')}
    return [by_index[i] for i in sorted(by_index)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', type=Path, required=True)
    ap.add_argument('--out', type=Path, required=True)
    ap.add_argument('sources', type=Path, nargs='+')
    args = ap.parse_args(argv)
    rows = merge(args.data, args.sources)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(''.join(json.dumps(r) + '\n' for r in rows))
    print(json.dumps({'out': str(args.out), 'labels': len(rows)}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
