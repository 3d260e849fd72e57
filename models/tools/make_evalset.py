"""Builds camera-like evaluation sets: whole photos, a third clean and the rest damaged the way a
camera pipeline damages them, written as an image folder that `diffiqa-gate evaluate --data DIR`
reads (identity.txt, `file identity`, as celeba-wild has).

    PYTHONPATH=models python -m tools.make_evalset --set celeba-wild-cam --set lfw-heldout-cam

Sets (sources read from the shared mirror, output under <cache>/evalsets/<name>/):
  celeba-wild-cam   every photo of data/celeba-wild (its identity.txt)
  lfw-heldout-cam   data/lfw, only identities that tools.splits.heldout keeps out of training, with
                    at least 2 images; the first 12 images (sorted) of each
  lfw-val-cam       the same from the validation identities (tools.splits.validation at 0.15 among
                    the training identities): a trainer keeps them back, and settings and checkpoints
                    are chosen on this set, so that lfw-heldout-cam and celeba-wild stay unseen

Each photo is damaged as a whole (the gate's detector and alignment then see it as they would a
camera's frame), by one choice seeded from (--seed, file name), so a file gets the same damage
whatever else is in the set: clean with probability 1/3, else one of KINDS with equal probability.
Strengths are where recognition suffers (pixel sizes are for a 250 px photo such as LFW's, whose
face is ~100 px wide; `scale` = shorter side / 250 adapts them to the photo):
  blur        Gaussian, sigma 2-5 px x scale
  lowres      whole image shrunk by 3-8 (box filter) and brought back up (bicubic): LFW's ~100 px
              face keeps 12-33 px of detail, 5-13 px between the eyes
  motion      linear, 9-25 px x scale, at a random angle
  jpeg        quality 5-25 (the file written is that JPEG)
  noise       Gaussian, sigma 15-40 of 255, per pixel and channel
  dark        brightness x0.08-0.25
  overexposed brightness x2.5-4, clipped
  occlusion   a grey block over the upper (eyes) or lower (nose, mouth) 45-60 % of the face box,
              the box from dlib's HOG face detector, or when it finds none an assumed central box
Everything except `jpeg` is written as JPEG quality 95. manifest.json lists, per file, its source,
kind and parameters; `--limit N` makes a small sample: whole identities, in file order, while
they fit in N images.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from tools import splits
from tools.common import cache_dir, shared_dir

KINDS = ('blur', 'lowres', 'motion', 'jpeg', 'noise', 'dark', 'overexposed', 'occlusion')
CLEAN_SHARE = 1 / 3
LFW_MAX_PER_IDENTITY = 12
SETS = ('celeba-wild-cam', 'lfw-heldout-cam', 'lfw-val-cam')
VAL_FRACTION = 0.15     # train_ediffiqa's default --val-fraction
OUT_QUALITY = 95
GREY = 128


def file_rng(seed: str, rel: str) -> np.random.Generator:
    """The generator for one file: from the seed and the file's name only."""
    digest = hashlib.sha256(f'{seed}/{rel}'.encode('utf-8')).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], 'little'))


def choose(rng: np.random.Generator) -> str:
    return 'clean' if rng.random() < CLEAN_SHARE else KINDS[int(rng.integers(len(KINDS)))]


def _motion(img: np.ndarray, length: float, angle: float) -> np.ndarray:
    """Mean of copies shifted along a line of `length` px; edges repeat (no black border)."""
    steps = max(2, int(round(length)))
    pad = int(np.ceil(length / 2)) + 1
    padded = np.pad(img.astype(np.float64), ((pad, pad), (pad, pad), (0, 0)), mode='edge')
    h, w = img.shape[:2]
    acc = np.zeros(img.shape, np.float64)
    for k in range(steps):
        d = (k / (steps - 1) - 0.5) * length
        dx, dy = int(round(d * np.cos(angle))), int(round(d * np.sin(angle)))
        acc += padded[pad + dy:pad + dy + h, pad + dx:pad + dx + w]
    return np.clip(np.round(acc / steps), 0, 255).astype(np.uint8)


def _face_box(img: np.ndarray) -> tuple[tuple[int, int, int, int], str]:
    """(left, top, right, bottom) of the largest face dlib's HOG detector finds, else a central guess."""
    import dlib  # only occlusion needs it

    h, w = img.shape[:2]
    found = dlib.get_frontal_face_detector()(img, 1)
    if len(found) > 0:
        r = max(found, key=lambda r: r.width() * r.height())
        return (max(0, r.left()), max(0, r.top()), min(w, r.right()), min(h, r.bottom())), 'detected'
    return (int(w * 0.3), int(h * 0.2), int(w * 0.7), int(h * 0.65)), 'assumed'


def degrade(img: np.ndarray, kind: str, rng: np.random.Generator) -> tuple[np.ndarray | bytes, dict]:
    """One kind of damage on a whole uint8 HWC photo; returns the image (JPEG bytes for `jpeg`)
    and its parameters."""
    scale = min(img.shape[:2]) / 250
    pil = Image.fromarray(img)
    if kind == 'clean':
        return img, {}
    if kind == 'blur':
        sigma = float(rng.uniform(2, 5)) * scale
        return np.asarray(pil.filter(ImageFilter.GaussianBlur(sigma))), {'sigma': round(sigma, 3)}
    if kind == 'lowres':
        factor = float(rng.uniform(3, 8))
        small = pil.resize((max(1, round(pil.width / factor)), max(1, round(pil.height / factor))), Image.BOX)
        return np.asarray(small.resize(pil.size, Image.BICUBIC)), {'factor': round(factor, 3), 'small': list(small.size)}
    if kind == 'motion':
        length, angle = float(rng.uniform(9, 25)) * scale, float(rng.uniform(0, np.pi))
        return _motion(img, length, angle), {'length': round(length, 3), 'angle_deg': round(float(np.degrees(angle)), 1)}
    if kind == 'jpeg':
        quality = int(rng.integers(5, 26))
        buf = io.BytesIO()
        pil.save(buf, format='JPEG', quality=quality)
        return buf.getvalue(), {'quality': quality}
    if kind == 'noise':
        sigma = float(rng.uniform(15, 40))
        return np.clip(np.round(img + rng.normal(0, sigma, img.shape)), 0, 255).astype(np.uint8), {'sigma': round(sigma, 3)}
    if kind in ('dark', 'overexposed'):
        gain = float(rng.uniform(0.08, 0.25) if kind == 'dark' else rng.uniform(2.5, 4))
        return np.clip(np.round(img.astype(np.float64) * gain), 0, 255).astype(np.uint8), {'gain': round(gain, 4)}
    if kind == 'occlusion':
        (l, t, r, b), how = _face_box(img)
        part = 'upper' if rng.random() < 0.5 else 'lower'
        cover = float(rng.uniform(0.45, 0.6))
        cut = t + round((b - t) * cover) if part == 'upper' else b - round((b - t) * cover)
        top, bottom = (t, cut) if part == 'upper' else (cut, b)
        out = img.copy()
        out[top:bottom, l:r] = GREY
        return out, {'part': part, 'cover': round(cover, 3), 'box': [l, t, r, b], 'boxFrom': how}
    raise ValueError(f'unknown degradation {kind}')


def celeba_sources(mirror: Path) -> list[tuple[str, str]]:
    """(file, identity) of every photo in data/celeba-wild/identity.txt, in file order."""
    lines = (mirror / 'data' / 'celeba-wild' / 'identity.txt').read_text().splitlines()
    rows = [l.split() for l in lines[1:] if l.strip()]
    return sorted((f, i) for f, i in rows)


def lfw_sources(mirror: Path, validation: bool = False) -> list[tuple[str, str]]:
    """(Name/file, Name) for held-out LFW identities (or, with `validation`, the training identities
    kept back for validation) with >= 2 images, at most 12 each."""
    root = mirror / 'data' / 'lfw'
    out = []
    wanted = ((lambda p: not splits.heldout(p) and splits.validation(p, VAL_FRACTION)) if validation
              else splits.heldout)
    for person in sorted(p.name for p in root.iterdir() if p.is_dir()):
        if not wanted(person):
            continue
        files = sorted(f.name for f in (root / person).iterdir() if f.suffix.lower() == '.jpg')
        if len(files) >= 2:
            out.extend((f'{person}/{f}', person) for f in files[:LFW_MAX_PER_IDENTITY])
    return out


def limited(sources: list[tuple[str, str]], limit: int | None) -> list[tuple[str, str]]:
    """Whole identities, in order of first appearance, while they fit in `limit` images (so a
    sample still has genuine pairs)."""
    if limit is None or len(sources) <= limit:
        return sources
    counts = Counter(i for _, i in sources)
    keep, n = set(), 0
    for ident in dict.fromkeys(i for _, i in sources):
        if n + counts[ident] <= limit:
            keep.add(ident)
            n += counts[ident]
    return [s for s in sources if s[1] in keep]


def make(name: str, mirror: Path, out: Path, seed: str = 'evalset-v1', limit: int | None = None) -> dict:
    """Writes the set `name` into `out` (images, identity.txt, manifest.json); returns the manifest."""
    if name == 'celeba-wild-cam':
        src_root, sources = mirror / 'data' / 'celeba-wild', limited(celeba_sources(mirror), limit)
    elif name in ('lfw-heldout-cam', 'lfw-val-cam'):
        src_root, sources = mirror / 'data' / 'lfw', limited(lfw_sources(mirror, name == 'lfw-val-cam'), limit)
    else:
        raise ValueError(f'unknown set {name}: expected one of {", ".join(SETS)}')
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict] = {}
    for rel, ident in sources:
        rng = file_rng(seed, rel)
        kind = choose(rng)
        img = np.asarray(Image.open(src_root / rel).convert('RGB'), dtype=np.uint8)
        result, params = degrade(img, kind, rng)
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(result, bytes):
            target.write_bytes(result)
        else:
            Image.fromarray(result).save(target, format='JPEG', quality=OUT_QUALITY)
        files[rel] = {'identity': ident, 'kind': kind, **params}
    (out / 'identity.txt').write_text('file identity\n' + ''.join(f'{f} {v["identity"]}\n' for f, v in files.items()))
    manifest = {
        'name': name,
        'source': f'data/{src_root.name} of the shared mirror',
        'seed': seed,
        'limit': limit,
        'identities': len({v['identity'] for v in files.values()}),
        'kinds': dict(sorted(Counter(v['kind'] for v in files.values()).items())),
        'files': files,
    }
    (out / 'manifest.json').write_text(json.dumps(manifest, indent=1) + '\n')
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--set', action='append', choices=SETS, required=True, help='repeatable')
    ap.add_argument('--out-root', type=Path, default=None, help='default <cache>/evalsets')
    ap.add_argument('--seed', default='evalset-v1')
    ap.add_argument('--limit', type=int, default=None, help='a small sample: at most N images')
    args = ap.parse_args(argv)
    mirror = shared_dir()
    for name in args.set:
        t0 = time.time()
        out = (args.out_root or cache_dir() / 'evalsets') / name
        m = make(name, mirror, out, args.seed, args.limit)
        print(f'{name}: {len(m["files"])} images, {m["identities"]} identities, {m["kinds"]} -> {out} ({time.time() - t0:.1f} s)',
              file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
