"""The FR embedder's outputs as extra training targets of the quality regressor (distillation, which
the models issue allows): per face, the log norm of MobileFaceNet's raw (not yet normalised)
embedding, of the face and of its mirror image, and the cosine between the two embeddings.

Why these three and not the embedding itself: on the labelled regset faces a ridge probe on the
normalised 128-d embedding ranks the held-out faces' full-DifFIQA labels at Spearman 0.65 (0.05
among the clean faces), while the raw embedding's norm alone ranks them at 0.87 (0.75 among the
clean faces) and the flip cosine at 0.76 (numbers from `python -m tools.teacher --probe`). The norm
is what FR models trained with margin losses make large for faces they are sure of, so it carries
the "how recognisable is this face" that full DifFIQA measures by perturbation; a small student
network can learn three numbers where it could not learn a 128-d identity code.

The targets are computed once per face and cached in <data>/teacher.npz (NaN rows for faces not yet
computed, so an extended regset computes only its new faces); they ignore the training's shift
augmentation (a few pixels), and the mirror's norm is the target of a mirrored training crop.

    PYTHONPATH=models python -m tools.teacher --data .cache/datasets/regset --probe
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tools.common import IMAGENET_MEAN, IMAGENET_STD, MOBILEFACENET_PT_SHA256, cache_dir, shared_dir
from tools.stats import spearman

CACHE_NAME = 'teacher.npz'
COLUMNS = ('log_norm', 'log_norm_mirror', 'flip_cosine')


class Teacher:
    """MobileFaceNet from the mirror (sha256-checked); input in the regressor's [-1,1] units."""

    def __init__(self, mirror: Path):
        from tools.build_embedder import load_mobilefacenet
        self.model = load_mobilefacenet(mirror)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    @torch.no_grad()
    def targets(self, x: torch.Tensor) -> torch.Tensor:
        """[N,3]: log |e(x)|, log |e(mirror x)|, cos(e(x), e(mirror x))."""
        raw = self.model(((torch.cat([x, x.flip(3)]) + 1) / 2 - self.mean) / self.std)
        e, ef = raw.chunk(2)
        return torch.stack([e.norm(dim=1).log(), ef.norm(dim=1).log(), F.cosine_similarity(e, ef, dim=1)], 1)


def cached_targets(data: Path, faces: np.ndarray, wanted: np.ndarray, mirror: Path, batch: int = 64) -> np.ndarray:
    """Targets [count,3] for every face of the dataset, computing (and caching) the `wanted` ones
    that are missing. A cache of another teacher or another face count is recomputed."""
    from tools.train_denoiser import to_unit
    path = data / CACHE_NAME
    table = np.full((len(faces), len(COLUMNS)), np.nan, np.float32)
    if path.is_file():
        z = np.load(path)
        if str(z['teacher']) == MOBILEFACENET_PT_SHA256 and len(z['targets']) <= len(faces):
            table[:len(z['targets'])] = z['targets']       # an extended regset keeps its first faces
    missing = [int(i) for i in wanted if not np.isfinite(table[i]).all()]
    if missing:
        teacher = Teacher(mirror)
        print(f'teacher targets: computing {len(missing)} faces', flush=True)
        for k in range(0, len(missing), batch):
            idx = missing[k:k + batch]
            table[idx] = teacher.targets(to_unit(faces[idx])).numpy()
            if (k // batch) % 20 == 19 or k + batch >= len(missing):      # resumable: save as it goes
                np.savez(path, targets=table, teacher=MOBILEFACENET_PT_SHA256, columns=np.array(COLUMNS))
    return table


class DistillHeads(torch.nn.Module):
    """Training-only head on the pooled features: the two targets of the crop as seen (its norm,
    the mirror's norm when the crop was mirrored) and the flip cosine."""

    def __init__(self, features: int):
        super().__init__()
        self.out = torch.nn.Linear(features, 2)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.out(f)


def norm_scale(table: np.ndarray, train: np.ndarray) -> tuple[float, float]:
    """Mean and std of the log norms (both views) over the train faces: fixes the scale below."""
    norms = table[train][:, :2]
    return float(np.nanmean(norms)), float(np.nanstd(norms)) or 1.0


def scaled_targets(table: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Targets on about the label's scale ([0,1], std ~0.2): the log norm z-scored (`norm_scale`)
    around 0.5; the flip cosine, which sits in ~[0.5,1] for real faces, as (c-0.5)*2."""
    mu, sd = scale
    out = np.empty_like(table)
    out[:, :2] = 0.5 + 0.2 * (table[:, :2] - mu) / sd
    out[:, 2] = (table[:, 2] - 0.5) * 2
    return out


class DistillPool:
    """Unlabelled faces for the distillation target only: further make_regset sets (other seeds:
    the same sources degraded otherwise). The teacher's targets cost ~17 ms a face where a
    full-DifFIQA label costs ~400 ms, so these sets can be far larger than the labelled one. Faces
    of `excluded` identities (the labelled set's held-out ones) are left out, so the held-out
    numbers stay those of faces the network never saw in any form."""

    def __init__(self, sets: list[Path], excluded: set[str], mirror: Path, scale: tuple[float, float]):
        from tools.train_denoiser import load_faces
        faces, targets = [], []
        for data in sets:
            items = json.loads((data / 'index.json').read_text())['items']
            keep = np.array([i for i, it in enumerate(items) if it['identity'] not in excluded], dtype=np.int64)
            f = load_faces(data)
            table = cached_targets(data, f, keep, mirror)
            faces.append(np.asarray(f[keep]))
            targets.append(scaled_targets(table[keep], scale))
        self.faces = np.concatenate(faces)
        self.targets = torch.from_numpy(np.concatenate(targets)).float()

    def __len__(self) -> int:
        return len(self.faces)

    def batch(self, step: int, size: int, seed: int) -> np.ndarray:
        """Indices of a step's pool faces, seeded by (seed, step): a resumed run draws the same."""
        return np.random.default_rng([seed, 4, step]).choice(len(self.faces), size, replace=False)


def distill_loss(heads: DistillHeads, f: torch.Tensor, scaled: torch.Tensor, mirrored: torch.Tensor) -> torch.Tensor:
    """L1 of the head against the crop's targets; `scaled` [N,3] per face, `mirrored` [N] bool."""
    pred = heads(f)
    norm = torch.where(mirrored, scaled[:, 1], scaled[:, 0])
    return F.l1_loss(pred[:, 0], norm) + F.l1_loss(pred[:, 1], scaled[:, 2])


def probe(data: Path, labels: Path, mirror: Path) -> dict:
    """How well each teacher target ranks the labelled faces' full-DifFIQA labels (held-out split)."""
    from tools.regset_data import Dataset
    ds = Dataset(data, labels)
    table = cached_targets(data, ds.faces, np.concatenate([ds.train, ds.heldout]), mirror)
    kinds = np.array([it.get('kind') for it in json.loads((data / 'index.json').read_text())['items']])
    h = ds.heldout
    clean = h[kinds[h] == 'clean']
    out = {}
    for j, name in enumerate(COLUMNS):
        out[name] = {'heldout': round(spearman(table[h, j], ds.scores[h]), 4),
                     'heldout_clean': round(spearman(table[clean, j], ds.scores[clean]), 4) if len(clean) > 1 else None}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--data', type=Path, default=cache_dir() / 'datasets' / 'regset')
    ap.add_argument('--labels', type=Path, help='JSON lines {i, score} (default <data>/labels.jsonl)')
    ap.add_argument('--mirror', type=Path, default=None, help='shared mirror holding models/mobilefacenet.pt')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--probe', action='store_true', help='print each target\'s Spearman with the labels')
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    mirror = args.mirror or shared_dir()
    if args.probe:
        print(json.dumps(probe(args.data, args.labels or args.data / 'labels.jsonl', mirror)))
        return 0
    from tools.train_denoiser import load_faces
    faces = load_faces(args.data)
    cached_targets(args.data, faces, np.arange(len(faces)), mirror)
    return 0


if __name__ == '__main__':
    sys.exit(main())
