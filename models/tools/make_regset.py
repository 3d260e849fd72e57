"""Builds the regressor's training set: aligned faces, about a third clean and the rest degraded at
random strengths, so that the full-DifFIQA labels (computed later by the TypeScript `label`
command) spread over the whole quality range rather than bunching at "good LFW photo".

    PYTHONPATH=models python -m tools.make_regset --data .cache/datasets/lfw-aligned \
        --out .cache/datasets/regset --count 1200 --seed 0

Input: <data>/faces.u8 (N x 112 x 112 x 3 uint8 RGB) + index.json ({count, files, identities}).
Output: <out>/faces.u8 (count faces, same layout) + index.json with the source's fields (count,
size, files, identities, eyeDistance when present) and `items`: per face its source index,
identity, split ("train" or "heldout"), degradation kind, strength in [0,1] and the concrete
operations with their parameters.

Split: by identity, so no person is on both sides; held-out takes whole identities (in seeded
random order) while they fit in round(heldout * count). Faces are written in the seeded random
pick order, so any prefix (e.g. a partial labelling run) is itself a random sample.
--extend N appends N faces to an existing set: sources not yet used, degraded the same way (face
at position p seeded from (seed, position) as before); an identity already in the set keeps its
split and a new one goes to train, so the held-out faces, and the labels already computed (by face
index), stay valid. Faces of held-out identities are not added: the held-out split stays the
very faces it was, so correlations before and after an extension compare.
Degradations: "clean" with probability `--clean`; otherwise one of blur (Gaussian sigma 0.5-4),
downscale (x2-x10, log-uniform in strength, and back up), motion (linear blur 3-17 px at a random
angle), jpeg (quality 40-5), noise (Gaussian sigma 5-40 of 255), dark (x0.6-x0.15), combo (two of
those) or bsrgan (tools.degrade rounds; 1 round below strength 0.5, else 2). Kinds are drawn with
KIND_WEIGHTS: low resolution, blur and motion, the degradations that hurt recognition most, come
up most often.
Split: `--split-rule hash` puts an identity in held-out iff tools.splits.heldout says so (the
project-wide rule the evaluation sets use too; --heldout is then ignored). Each face's randomness is seeded from (seed, position), so the
output is the same for a seed, whatever else changes.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from tools import splits
from tools.common import cache_dir
from tools.degrade import degrade

SIZE = 112
SIMPLE = ('blur', 'downscale', 'motion', 'jpeg', 'noise', 'dark')
DEGRADED = SIMPLE + ('combo', 'bsrgan')
# Why these weights: on camera crops low resolution, defocus and motion blur are what make a face
# unrecognisable; JPEG, noise and exposure matter less to an FR model at the strengths drawn here.
KIND_WEIGHTS = {'blur': 0.17, 'downscale': 0.22, 'motion': 0.17, 'jpeg': 0.08, 'noise': 0.08,
                'dark': 0.06, 'combo': 0.14, 'bsrgan': 0.08}
# Order in which a combo applies its two operations: optics first, then sensor, then codec.
PIPELINE_ORDER = ('blur', 'motion', 'downscale', 'dark', 'noise', 'jpeg')
RESAMPLERS = {'bilinear': Image.BILINEAR, 'bicubic': Image.BICUBIC, 'box': Image.BOX}


def _param(kind: str, u: float) -> float:
    """Strength u in [0,1] (0 mildest) -> the operation's parameter."""
    if kind == 'blur':
        return 0.5 + 3.5 * u                 # Gaussian sigma, px
    if kind == 'downscale':
        return 2.0 * 5.0 ** u                # factor 2..10, log-uniform: x2->x4 matters as much as x4->x8
    if kind == 'motion':
        return 3.0 + 14.0 * u                # blur length, px
    if kind == 'jpeg':
        return float(round(40 - 35 * u))     # quality 40..5
    if kind == 'noise':
        return 5.0 + 35.0 * u                # sigma, 0-255 units
    if kind == 'dark':
        return 0.6 - 0.45 * u                # brightness factor 0.6..0.15
    raise ValueError(kind)


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format='JPEG', quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert('RGB'), dtype=np.uint8)


def _motion(img: np.ndarray, length: float, angle: float) -> np.ndarray:
    """Linear motion blur: the mean of copies shifted along a line of `length` px."""
    pil = Image.fromarray(img)
    steps = max(2, int(round(length)))
    acc = np.zeros(img.shape, np.float64)
    for k in range(steps):
        d = (k / (steps - 1) - 0.5) * length
        dx, dy = d * np.cos(angle), d * np.sin(angle)
        acc += np.asarray(pil.transform(pil.size, Image.AFFINE, (1, 0, dx, 0, 1, dy), Image.BILINEAR), np.float64)
    return np.clip(np.round(acc / steps), 0, 255).astype(np.uint8)


def apply_op(img: np.ndarray, kind: str, value: float, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """One simple degradation of a uint8 HWC image; returns the image and what was done."""
    op: dict = {'kind': kind, 'value': round(value, 4)}
    if kind == 'blur':
        out = np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(value)), dtype=np.uint8)
    elif kind == 'downscale':
        small = max(4, int(round(SIZE / value)))
        name = list(RESAMPLERS)[int(rng.integers(len(RESAMPLERS)))]
        pil = Image.fromarray(img).resize((small, small), RESAMPLERS[name])
        out = np.asarray(pil.resize((SIZE, SIZE), Image.BICUBIC), dtype=np.uint8)
        op.update(size=small, resample=name)
    elif kind == 'motion':
        angle = float(rng.uniform(0, np.pi))
        out = _motion(img, value, angle)
        op['angle'] = round(angle, 4)
    elif kind == 'jpeg':
        out = _jpeg(img, int(value))
    elif kind == 'noise':
        grey = bool(rng.random() < 0.3)
        n = rng.normal(0.0, value, (SIZE, SIZE, 1 if grey else 3))
        out = np.clip(np.round(img.astype(np.float64) + n), 0, 255).astype(np.uint8)
        op['grey'] = grey
    elif kind == 'dark':
        out = np.clip(np.round(img.astype(np.float64) * value), 0, 255).astype(np.uint8)
    else:
        raise ValueError(kind)
    return np.ascontiguousarray(out), op


def degrade_item(img: np.ndarray, rng: np.random.Generator, clean_prob: float) -> tuple[np.ndarray, dict]:
    """Draws a kind and strength for one face and applies it. uint8 HWC -> (uint8 HWC, record)."""
    if rng.random() < clean_prob:
        return img.copy(), {'kind': 'clean', 'strength': 0.0, 'ops': []}
    weights = np.asarray([KIND_WEIGHTS[k] for k in DEGRADED])
    kind = DEGRADED[int(rng.choice(len(DEGRADED), p=weights / weights.sum()))]
    if kind in SIMPLE:
        u = float(rng.random())
        out, op = apply_op(img, kind, _param(kind, u), rng)
        return out, {'kind': kind, 'strength': round(u, 4), 'ops': [op]}
    if kind == 'combo':
        pair = sorted(rng.choice(len(SIMPLE), 2, replace=False), key=lambda k: PIPELINE_ORDER.index(SIMPLE[k]))
        out, ops, us = img, [], []
        for k in pair:
            u = float(rng.random())
            out, op = apply_op(out, SIMPLE[k], _param(SIMPLE[k], u), rng)
            op['strength'] = round(u, 4)
            ops.append(op)
            us.append(u)
        return out, {'kind': 'combo', 'strength': round(max(us), 4), 'ops': ops}
    u = float(rng.random())
    rounds = 1 if u < 0.5 else 2
    out = degrade(img, rng, scale=2, probs=(1.0,) * rounds)
    return out, {'kind': 'bsrgan', 'strength': round(u, 4), 'ops': [{'kind': 'bsrgan', 'rounds': rounds}]}


def split_by_identity(identities: list[str], heldout: float, rng: np.random.Generator) -> dict[str, str]:
    """identity -> 'train' | 'heldout'. Whole identities go to held-out, in seeded random order,
    while they fit in round(heldout * len(identities)) faces; the rest is train."""
    counts = Counter(identities)
    target = int(round(heldout * len(identities)))
    names = sorted(counts)
    taken, split = 0, {}
    for j in rng.permutation(len(names)):
        name = names[j]
        if taken + counts[name] <= target:
            split[name] = 'heldout'
            taken += counts[name]
        else:
            split[name] = 'train'
    return split


def split_by_rule(identities: list[str]) -> dict[str, str]:
    return {name: 'heldout' if splits.heldout(name) else 'train' for name in set(identities)}


def make(data: Path, out: Path, count: int, seed: int, heldout: float = 0.15, clean_prob: float = 0.35,
         rule: str = 'random') -> dict:
    index = json.loads((data / 'index.json').read_text())
    total = int(index['count'])
    raw = data / 'faces.u8'
    if raw.stat().st_size != total * SIZE * SIZE * 3:
        raise ValueError(f'{raw}: {raw.stat().st_size} bytes, index.json says {total} faces')
    if not 0 < count <= total:
        raise ValueError(f'--count {count} must be in 1..{total}')
    faces = np.memmap(raw, dtype=np.uint8, mode='r', shape=(total, SIZE, SIZE, 3))
    picks = [int(i) for i in np.random.default_rng([seed, 0]).choice(total, count, replace=False)]
    ids = [index['identities'][i] for i in picks]
    split = split_by_rule(ids) if rule == 'hash' else split_by_identity(ids, heldout, np.random.default_rng([seed, 1]))
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / 'faces.u8.tmp'
    items = []
    with open(tmp, 'wb') as f:
        for pos, src in enumerate(picks):
            img, rec = degrade_item(np.array(faces[src]), np.random.default_rng([seed, 2, pos]), clean_prob)
            assert img.shape == (SIZE, SIZE, 3) and img.dtype == np.uint8
            f.write(img.tobytes())
            items.append({'source': src, 'file': index['files'][src], 'identity': ids[pos],
                          'split': split[ids[pos]], **rec})
    os.replace(tmp, out / 'faces.u8')
    result = {
        'count': count, 'size': SIZE, 'seed': seed, 'source': str(data), 'sourceCount': total,
        'heldoutFraction': heldout, 'splitRule': rule, 'cleanProbability': clean_prob,
        'files': [it['file'] for it in items], 'identities': ids,
        **({'eyeDistance': [index['eyeDistance'][i] for i in picks]} if 'eyeDistance' in index else {}),
        'items': items,
    }
    (out / 'index.json').write_text(json.dumps(result, indent=1) + '\n')
    return result


def extend(data: Path, out: Path, add: int) -> dict:
    """Appends `add` faces to the set in `out` (see the module doc); returns the new index."""
    index = json.loads((data / 'index.json').read_text())
    total = int(index['count'])
    old = json.loads((out / 'index.json').read_text())
    count, seed, clean_prob = int(old['count']), int(old['seed']), float(old['cleanProbability'])
    used = {it['source'] for it in old['items']}
    by_rule = old.get('splitRule') == 'hash'
    held = {it['identity'] for it in old['items'] if it['split'] == 'heldout'}
    if by_rule:        # the project-wide rule holds for identities the set has not met yet too
        held |= {name for name in index['identities'] if splits.heldout(name)}
    # Sources of held-out identities are left out: the held-out faces stay exactly those scored before.
    free = np.array([i for i in range(total) if i not in used and index['identities'][i] not in held])
    if not 0 < add <= len(free):
        raise ValueError(f'--extend {add} must be in 1..{len(free)} (unused source faces)')
    if (out / 'faces.u8').stat().st_size != count * SIZE * SIZE * 3:
        raise ValueError(f'{out / "faces.u8"} does not hold the {count} faces its index.json lists')
    faces = np.memmap(data / 'faces.u8', dtype=np.uint8, mode='r', shape=(total, SIZE, SIZE, 3))
    picks = [int(i) for i in np.random.default_rng([seed, 3, count]).choice(free, add, replace=False)]
    split = {it['identity']: it['split'] for it in old['items']}
    items = []
    with open(out / 'faces.u8', 'ab') as f:
        for k, src in enumerate(picks):
            pos = count + k
            img, rec = degrade_item(np.array(faces[src]), np.random.default_rng([seed, 2, pos]), clean_prob)
            f.write(img.tobytes())
            identity = index['identities'][src]
            items.append({'source': src, 'file': index['files'][src], 'identity': identity,
                          'split': split.get(identity, 'train'), **rec})
    old['items'] += items
    old['count'] = count + add
    old['files'] += [it['file'] for it in items]
    old['identities'] += [it['identity'] for it in items]
    if 'eyeDistance' in old and 'eyeDistance' in index:
        old['eyeDistance'] += [index['eyeDistance'][i] for i in picks]
    (out / 'index.json').write_text(json.dumps(old, indent=1) + '\n')
    return old


def summary(result: dict) -> dict:
    items = result['items']
    return {
        'count': result['count'],
        'split': dict(Counter(it['split'] for it in items)),
        'identities': {s: len({it['identity'] for it in items if it['split'] == s}) for s in ('train', 'heldout')},
        'kinds': dict(sorted(Counter(it['kind'] for it in items).items())),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', type=Path, default=cache_dir() / 'datasets' / 'lfw-aligned')
    ap.add_argument('--out', type=Path, default=cache_dir() / 'datasets' / 'regset')
    ap.add_argument('--count', type=int, default=1200)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--heldout', type=float, default=0.15, help='fraction of faces in the held-out split')
    ap.add_argument('--clean', type=float, default=0.35, help='probability that a face stays clean')
    ap.add_argument('--split-rule', choices=('random', 'hash'), default='random',
                    help='random: seeded identities up to --heldout; hash: tools.splits.heldout (project-wide)')
    ap.add_argument('--extend', type=int, metavar='N', help='append N faces to the set in --out (keeps its seed and splits)')
    args = ap.parse_args(argv)
    if not (0 < args.heldout < 1 and 0 <= args.clean <= 1):
        ap.error('--heldout must be in (0,1) and --clean in [0,1]')
    start = time.monotonic()
    result = extend(args.data, args.out, args.extend) if args.extend else \
        make(args.data, args.out, args.count, args.seed, args.heldout, args.clean, args.split_rule)
    print(json.dumps({**summary(result), 'seconds': round(time.monotonic() - start, 1),
                      'out': str(args.out)}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
