"""EDC pAUC in Python, for choosing checkpoints on LFW validation identities (the product's
`evaluate` command is the judge of record; this mirrors its definition so the trainer can rank
candidates without leaving Python).

Threshold at FMR 1e-3 over all impostor comparisons; a genuine pair's quality is the lower of its
two images'; discarding the k lowest-quality genuine pairs, FNMR_k = failures left / pairs left;
pAUC@x = mean of FNMR_k over k = 0..floor(x n), divided by FNMR_0 (1.0: no better than random order,
lower is better). The floor orders the failing pairs first.
"""
from __future__ import annotations

import numpy as np


def threshold_at_fmr(impostor: np.ndarray, fmr: float = 1e-3) -> float:
    """The lowest similarity that at most `fmr` of the impostor comparisons reach."""
    s = np.sort(impostor)[::-1]
    k = int(np.floor(fmr * len(s)))
    return float(s[k]) + 1e-7 if k < len(s) else float(s[-1])


def pauc(failed: np.ndarray, pair_quality: np.ndarray, x: float) -> float:
    """Normalised pAUC@x of the EDC for genuine pairs (`failed`: below the threshold)."""
    n = len(failed)
    total = int(failed.sum())
    if n == 0 or total == 0:
        return float('nan')
    order = np.argsort(pair_quality, kind='stable')
    kmax = int(np.floor(x * n))
    removed = np.concatenate([[0], np.cumsum(failed[order][:kmax])])
    ks = np.arange(kmax + 1)
    fnmr = (total - removed) / (n - ks)
    return float(fnmr.mean() / (total / n))


def genuine_pairs(labels: np.ndarray) -> np.ndarray:
    """[P, 2]: all pairs (i < j) of positions that share a label (an identity, or a drawn copy of one)."""
    order = np.argsort(labels, kind='stable')
    starts = np.flatnonzero(np.r_[True, np.diff(labels[order]) != 0])
    ends = np.r_[starts[1:], len(order)]
    parts = []
    for s, e in zip(starts, ends):
        idx = order[s:e]
        if len(idx) > 1:
            i, j = np.triu_indices(len(idx), 1)
            parts.append(np.stack([idx[i], idx[j]], 1))
    return np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)


def pairs(identities: list[str], impostors: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """All genuine pairs (i < j, same identity) and `impostors` sampled different-identity pairs."""
    names = np.array(identities)
    gen = genuine_pairs(np.unique(names, return_inverse=True)[1])
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(names), impostors * 2)
    b = rng.integers(0, len(names), impostors * 2)
    keep = names[a] != names[b]
    imp = np.stack([a[keep], b[keep]], 1)[:impostors]
    return gen, imp


def edc_table(emb: np.ndarray, identities: list[str], scores: dict[str, np.ndarray],
              xs: tuple[float, ...] = (0.2, 0.3), impostors: int = 200_000) -> dict:
    """pAUC@x of every scorer (higher score = better image) plus the floor, with cosine similarity
    of the embeddings `emb` [N, D]."""
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    gen, imp = pairs(identities, impostors)
    sim = lambda p: np.einsum('ij,ij->i', unit[p[:, 0]], unit[p[:, 1]])
    thr = threshold_at_fmr(sim(imp))
    failed = sim(gen) < thr
    out = {'genuine': int(len(gen)), 'impostor': int(len(imp)), 'fnmr0': round(float(failed.mean()), 4), 'pauc': {}}
    rows = {**{k: np.minimum(v[gen[:, 0]], v[gen[:, 1]]) for k, v in scores.items()}, 'floor': (~failed).astype(float)}
    for name, pq in rows.items():
        out['pauc'][name] = {f'@{x}': round(pauc(failed, pq, x), 4) for x in xs}
    return out
