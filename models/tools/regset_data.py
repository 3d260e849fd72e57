"""The labelled regressor set (tools.make_regset's faces + full-DifFIQA labels by face index), shared by
the trainers (tools.train_regressor, tools.train_ediffiqa) and tools.teacher."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tools.train_denoiser import load_faces


def load_items(data: Path, count: int) -> list[dict]:
    items = json.loads((data / 'index.json').read_text()).get('items')
    if not items or len(items) != count:
        raise ValueError(f'{data / "index.json"}: needs `items` with one split per face '
                         '(build it with tools.make_regset)')
    return items


def load_labels(path: Path, count: int) -> np.ndarray:
    """Scores by face index, NaN where a face has no (finite) label; a later line wins."""
    scores = np.full(count, np.nan)
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        i = int(rec['i'])
        if not 0 <= i < count:
            raise ValueError(f'{path}:{n}: face index {i} outside 0..{count - 1}')
        s = rec.get('score')
        scores[i] = float(s) if isinstance(s, (int, float)) else np.nan
    return scores


class Dataset:
    def __init__(self, data: Path, labels: Path):
        faces = load_faces(data)
        self.faces = np.array(faces)                        # ~45 MB for 1200 faces: keep in memory
        items = load_items(data, len(faces))
        splits = [it['split'] for it in items]
        # Every held-out identity, labelled or not: faces of these must not reach training in any form.
        self.heldout_identities = {it.get('identity') for it in items if it['split'] == 'heldout'}
        self.scores = load_labels(labels, len(faces))
        ok = np.isfinite(self.scores)
        self.train = np.flatnonzero(ok & (np.array(splits) == 'train'))
        self.heldout = np.flatnonzero(ok & (np.array(splits) == 'heldout'))
        self.unlabelled = int((~ok).sum())
        if len(self.train) < 2:
            raise ValueError(f'{labels}: only {len(self.train)} labelled train faces')

    def train_range(self) -> tuple[float, float]:
        s = self.scores[self.train]
        lo, hi = float(s.min()), float(s.max())
        if not hi > lo:
            raise ValueError(f'train labels are all {lo}: nothing to learn')
        return lo, hi


def batch_indices(train: np.ndarray, step: int, batch: int, seed: int) -> np.ndarray:
    """The `batch` train faces of `step`: consecutive slices of per-epoch permutations."""
    n = len(train)
    pos = np.arange(step * batch, (step + 1) * batch)
    epochs, within = np.divmod(pos, n)
    perms = {int(e): np.random.default_rng([seed, 1, int(e)]).permutation(n) for e in np.unique(epochs)}
    return train[[perms[int(e)][k] for e, k in zip(epochs, within)]]
