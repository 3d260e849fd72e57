"""Error bars for the EDC tables: pAUC of scorers, and of their differences, with a bootstrap over
identities, read from `diffiqa-gate evaluate`'s cache (faces already aligned, embedded and scored).

    PYTHONPATH=models python -m tools.edc_bootstrap --cache .cache/eval/<hash> \
        --scorer ediffiqa-t-own --scorer embedding-norm --fr dlib --reps 200

Genuine pairs share images and identities, so pairs are not independent draws: each replicate
draws the set's identities with replacement (a twice-drawn identity counts as two, with the pairs
within each copy), sets the FMR threshold again on impostor pairs of different people, and
recomputes every scorer's pAUC (tools.edc). The interval is the 2.5-97.5 percentile; a difference
whose interval excludes 0 is what the docs may call a lead. Scorer names match the cache's score
files by their full scorer id (`ediffiqa-t-own@ebb2cf933d7c`), else by the part before '@' (the
newest file when several versions are cached).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from tools.edc import genuine_pairs, pauc, threshold_at_fmr


def load_cache(cache: Path, scorers: list[str], fr: str) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(unit embeddings [N, D], identity index per row, scorer -> scores [N]) of the cached rows."""
    index = json.loads((cache / 'index.json').read_text())
    rows = index['rows']
    listing = Path(index['key']['data']) / 'identity.txt'
    if listing.is_file():
        ident = dict(l.split()[:2] for l in listing.read_text().splitlines()[1:] if l.strip())
    else:
        ident = {f: f.split('/')[0] for f in index['files']}
    names = [''] * rows
    for f, v in index['files'].items():
        if 'row' in v:
            names[v['row']] = ident[f]
    file = 'embeddings.f32' if fr == 'mobilefacenet' else f'embeddings-{fr}.f32'
    emb = np.fromfile(cache / file, np.float32).reshape(rows, -1)
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    scores = {}
    metas = sorted((cache / 'scores').glob('*.json'), key=lambda p: p.stat().st_mtime)
    for want in scorers:
        ids_of = {m: json.loads(m.read_text())['scorer'] for m in metas}
        hits = [m for m in metas if ids_of[m] == want] or [m for m in metas if ids_of[m].split('@')[0] == want]
        if not hits:
            raise SystemExit(f'edc_bootstrap: no cached scores of {want!r} in {cache / "scores"}')
        scores[want] = np.fromfile(hits[-1].with_suffix('.f32'), np.float32)
    _, ids = np.unique(names, return_inverse=True)
    return emb, ids, scores


def replicate(emb: np.ndarray, members: list[np.ndarray], scores: dict[str, np.ndarray], rng: np.random.Generator,
              x: float, impostors: int, resample: bool = True) -> dict[str, float]:
    """pAUC@x of every scorer on one bootstrap draw of identities (`members`: each identity's rows;
    the set itself with resample=False)."""
    drawn = rng.integers(0, len(members), len(members)) if resample else np.arange(len(members))
    rows = np.concatenate([members[k] for k in drawn])
    person = np.concatenate([np.full(len(members[k]), k) for k in drawn])
    copy = np.concatenate([np.full(len(members[k]), n) for n, k in enumerate(drawn)])
    gen = genuine_pairs(copy)
    a = rng.integers(0, len(rows), impostors * 2)
    b = rng.integers(0, len(rows), impostors * 2)
    keep = person[a] != person[b]
    imp = np.stack([a[keep], b[keep]], 1)[:impostors]
    sim = lambda p: np.einsum('ij,ij->i', emb[rows[p[:, 0]]], emb[rows[p[:, 1]]])
    failed = sim(gen) < threshold_at_fmr(sim(imp))
    out = {}
    for name, s in scores.items():
        q = s[rows]
        out[name] = pauc(failed, np.minimum(q[gen[:, 0]], q[gen[:, 1]]), x)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cache', type=Path, required=True, help="an evaluate cache folder (.cache/eval/<hash>)")
    ap.add_argument('--scorer', action='append', required=True, help='repeatable; the first is compared with each other')
    ap.add_argument('--fr', default='mobilefacenet', help="mobilefacenet (the cache's embedder) or dlib")
    ap.add_argument('--x', type=float, default=0.2)
    ap.add_argument('--reps', type=int, default=200)
    ap.add_argument('--impostors', type=int, default=100_000)
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args(argv)
    emb, ids, scores = load_cache(args.cache, args.scorer, args.fr)
    usable = np.all([np.isfinite(s) for s in scores.values()], axis=0)
    emb, ids = emb[usable], np.unique(ids[usable], return_inverse=True)[1]
    scores = {k: v[usable] for k, v in scores.items()}
    rng = np.random.default_rng(args.seed)
    members = [np.flatnonzero(ids == k) for k in range(ids.max() + 1)]     # once, not per draw
    point = replicate(emb, members, scores, rng, args.x, args.impostors, resample=False)
    reps = [replicate(emb, members, scores, rng, args.x, args.impostors) for _ in range(args.reps)]
    first = args.scorer[0]
    result = {'cache': args.cache.name, 'fr': args.fr, 'x': args.x, 'reps': args.reps, 'images': int(usable.sum()),
              'identities': int(ids.max() + 1), 'pauc': {}, 'difference': {}}
    for name in scores:
        v = np.array([r[name] for r in reps])
        result['pauc'][name] = {'point': round(point[name], 4), 'ci95': [round(float(np.percentile(v, p)), 4) for p in (2.5, 97.5)]}
    for name in args.scorer[1:]:
        d = np.array([r[first] - r[name] for r in reps])
        result['difference'][f'{first} - {name}'] = {'point': round(point[first] - point[name], 4),
                                                      'ci95': [round(float(np.percentile(d, p)), 4) for p in (2.5, 97.5)],
                                                      'share_below_0': round(float((d < 0).mean()), 3)}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
