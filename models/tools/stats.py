"""Rank and linear correlation, tie-aware: shared by the regressor's training report and the int8
quantiser's fidelity check (quantised scores are discrete, so ties are common there)."""
from __future__ import annotations

import math

import numpy as np


def average_ranks(x) -> np.ndarray:
    """Ranks 1..n; tied values share the mean of the ranks they span."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind='mergesort')
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x))
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + 1 + e) / 2      # mean of ranks s+1 .. e
    return ranks


def pearson(x, y) -> float:
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    denom = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / denom if denom > 0 else float('nan')


def spearman(x, y) -> float:
    return pearson(average_ranks(x), average_ranks(y))
