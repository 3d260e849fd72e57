"""Trains the inline quality model by the eDifFIQA recipe (DIFFIQA.md, section "eDifFIQA"),
resumably, within a time budget, and exports it as ONNX.

    PYTHONPATH=models python -m tools.train_ediffiqa --data .cache/datasets/trainset \
        --labels models/own/labels/trainset-diffiqa.jsonl --minutes 30
    PYTHONPATH=models python -m tools.train_ediffiqa --eval
    PYTHONPATH=models python -m tools.train_ediffiqa --export models/own/ediffiqa-t-own.onnx

Data: <data>/faces.u8 + index.json from tools.make_regset (`items[].split` says train or
heldout; only train faces are used, held-out ones only for --eval). Labels: JSON lines
{"i", "score"} (the `label` command's output, or the committed labels file with crop ids, which
are checked against the set so that labels never land on the wrong crop).

Recipe, per training face x of identity id:
- teacher: its full-DifFIQA label q, min-max normalised to [0,1] over the train faces, and the
  frozen FR model's embedding e(x) (tools.teacher's MobileFaceNet, cached for x and its mirror);
- identity centre c_id: the mean unit embedding of that identity's faces whose label is in the top
  --beta of all train labels; identities with fewer than --centre-min such faces have no centre
  (eDifFIQA's minimum is 10 on VGGFace2; LFW has 1-2 good faces for most identities, so 1 here);
- target = clamp(q - eps (1 - cos(ê(x), c_id)), 0, 1) with the student's feature ê(x) taken without
  gradient; q itself where there is no centre;
- loss = theta (1 - cos(ê(x), e(x))) + (1 - theta) |q̂ - target|; Adam, head lr 1e-3, backbone lr
  1e-4, grad-norm clip 5. Augmentation: horizontal mirror only (e and the frozen layers' output
  are cached for both: tools.ediffiqa_own says which layers are frozen and why).
Batches come from per-epoch permutations seeded by (seed, epoch), so a resumed run repeats an
uninterrupted one. <out>/last.pt every --ckpt-minutes and at the end; <out>/weights.pt holds the
model weights alone (small enough to commit: --init-from resumes from it on a new machine).
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tools.build_embedder import load_mobilefacenet
from tools.common import (IMAGENET_MEAN, IMAGENET_STD, REPO_ROOT, cache_dir, onnx_score_diff, regressor_manifest_entry,
                          sha256_file, shared_dir)
from tools.edc import edc_table
from tools.ediffiqa_own import EDifFIQAOwn, QualityOnly
from tools.splits import validation
from tools.stats import pearson, spearman
from tools.train_denoiser import load_faces, save_checkpoint
from tools.regset_data import batch_indices, load_items, load_labels

MODEL_ID = 'ediffiqa-t-own'
LICENCE = 'Apache-2.0 (backbone: foamliu MobileFaceNet, Apache-2.0; fine-tuned on LFW: research use only)'
MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def to_imagenet(batch_u8: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.array(batch_u8)).permute(0, 3, 1, 2).float() / 255.0     # a copy: memmaps are read-only
    return (x - MEAN) / STD


def pretrained(mirror: Path, frozen_blocks: int) -> EDifFIQAOwn:
    model = EDifFIQAOwn(frozen_blocks)
    model.base_model.load_state_dict(load_mobilefacenet(mirror).state_dict(), strict=True)
    return model


def both_sides(fn, faces: np.ndarray, todo: list[int], batch: int, what: str):
    """Yields (indices, fn(faces), fn(mirrored faces)) over `todo` in batches, with a progress line each."""
    for k in range(0, len(todo), batch):
        idx = todo[k:k + batch]
        chunk = np.stack([faces[i] for i in idx])
        yield idx, fn(to_imagenet(chunk)).numpy(), fn(to_imagenet(chunk[:, :, ::-1])).numpy()
        print(f'{what} {min(k + batch, len(todo))}/{len(todo)}', flush=True)


# ---- teacher data -------------------------------------------------------------------------------

@torch.no_grad()
def fr_embeddings(data: Path, faces: np.ndarray, wanted: np.ndarray, mirror: Path, batch: int = 128) -> np.ndarray:
    """[N, 2, 128]: the frozen FR model's raw embedding of every `wanted` face and of its mirror
    image (NaN elsewhere), cached in <data>/fr-embeddings.f32; only faces missing there are computed,
    so labelling more faces later costs only their embeddings."""
    path = data / 'fr-embeddings.f32'
    key_path = path.with_suffix('.key')
    n = len(faces)
    out = np.full((n, 2, 128), np.nan, np.float32)
    if path.is_file() and path.stat().st_size == out.nbytes and key_path.is_file() and key_path.read_text() == faces_key(data):
        out = np.fromfile(path, np.float32).reshape(n, 2, 128)
    todo = [int(i) for i in wanted if np.isnan(out[i, 0, 0])]
    if not todo:
        return out
    fr = pretrained(mirror, 0).base_model.eval()
    for idx, plain, mirrored in both_sides(fr, faces, todo, batch, 'teacher embeddings'):
        out[idx, 0], out[idx, 1] = plain, mirrored
    tmp = path.with_suffix('.tmp')
    out.tofile(tmp)
    tmp.replace(path)
    key_path.write_text(faces_key(data))
    return out


@torch.no_grad()
def prefix_features(data: Path, faces: np.ndarray, wanted: np.ndarray, model: EDifFIQAOwn, batch: int = 128) -> np.ndarray:
    """[N, 2, C, H, W] float16 memmap: the frozen layers' output for every `wanted` face and its
    mirror, cached in <data>/prefix-<blocks>.f16 with a .done list, so a step runs only the
    trainable rest of the network (float16: half the memory; the rest is trained on exactly these)."""
    model.eval()        # before any pass: in train mode even a shape probe would move the frozen BN statistics
    shape = tuple(model.prefix(torch.zeros(1, 3, 112, 112)).shape[1:])
    path = data / f'prefix-{model.frozen_blocks}.f16'
    done_path = path.with_suffix('.done.json')
    key = {'faces': faces_key(data), 'frozen': frozen_key(model)}
    n = len(faces)
    fits = path.is_file() and path.stat().st_size == n * 2 * int(np.prod(shape)) * 2
    record = json.loads(done_path.read_text()) if fits and done_path.is_file() else {}
    record = record if isinstance(record, dict) else {}     # an older cache's bare list carries no key: redo
    mode = 'r+' if record.get('key') == key else 'w+'
    cache = np.memmap(path, np.float16, mode, shape=(n, 2, *shape))
    done = set(record.get('done', [])) if mode == 'r+' else set()
    todo = [int(i) for i in wanted if int(i) not in done]
    for idx, plain, mirrored in both_sides(model.prefix, faces, todo, batch, 'frozen-layer features'):
        cache[idx, 0], cache[idx, 1] = plain.astype(np.float16), mirrored.astype(np.float16)
    if todo:
        cache.flush()
        done_path.write_text(json.dumps({'key': key, 'done': sorted(done | set(todo))}))
    return cache


def faces_key(data: Path) -> str:
    """What the caches were computed from: faces.u8's size and modification time (a rebuilt set changes both)."""
    st = (data / 'faces.u8').stat()
    return f'{st.st_size}:{st.st_mtime_ns}'


def frozen_key(model: EDifFIQAOwn) -> str:
    h = hashlib.sha256()
    for m in model.frozen_modules():
        for t in m.state_dict().values():
            h.update(t.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def identity_centres(identities: list[str], train: np.ndarray, q: np.ndarray, emb: np.ndarray,
                     beta: float, minimum: int) -> tuple[np.ndarray, np.ndarray]:
    """Per face: its identity's centre (unit vector) and whether it has one. `q` holds the train
    faces' normalised labels (by face index); the top `beta` of them are the 'good' faces."""
    cut = np.quantile(q[train], 1 - beta)
    unit = emb[:, 0] / np.linalg.norm(emb[:, 0], axis=1, keepdims=True)
    good: dict[str, list[int]] = {}
    for i in train:
        if q[i] >= cut:
            good.setdefault(identities[i], []).append(int(i))
    centres = np.zeros((len(identities), 128), np.float32)
    has = np.zeros(len(identities), bool)
    for i in train:
        members = good.get(identities[i], [])
        if len(members) >= minimum:
            c = unit[members].mean(0)
            centres[i] = c / np.linalg.norm(c)
            has[i] = True
    return centres, has


def check_ids(labels: Path, items: list[dict]) -> None:
    """The committed labels carry crop ids: refuse them if the set was rebuilt differently."""
    for n, line in enumerate(labels.read_text().splitlines(), 1):
        rec = json.loads(line) if line.strip() else {}
        if 'id' in rec and rec['id'] != crop_id(items[int(rec['i'])]):
            raise ValueError(f'{labels}:{n}: crop id {rec["id"]!r} is not face {rec["i"]} of this set '
                             f'({crop_id(items[int(rec["i"])])!r}): rebuild the set with the command in the model card')


def crop_id(item: dict) -> str:
    """Reproducible id of a training crop: source file, degradation and its parameters."""
    ops = ';'.join(','.join(f'{k}={v}' for k, v in sorted(op.items())) for op in item.get('ops', []))
    return f'{item["file"]}|{item["kind"]}|{ops}'


class TrainSet:
    def __init__(self, data: Path, labels: Path, mirror: Path, beta: float, centre_min: int, val_fraction: float = 0.0):
        faces = load_faces(data)
        self.items = load_items(data, len(faces))
        check_ids(labels, self.items)
        self.faces = np.array(faces)
        raw = load_labels(labels, len(faces))
        split = np.array([it['split'] for it in self.items])
        ok = np.isfinite(raw)
        val = np.array([validation(it['identity'], val_fraction) for it in self.items])
        self.train = np.flatnonzero(ok & (split == 'train') & ~val)
        self.val = np.flatnonzero(ok & (split == 'train') & val)
        self.heldout = np.flatnonzero(ok & (split == 'heldout'))
        if len(self.train) < 2:
            raise ValueError(f'{labels}: only {len(self.train)} labelled train faces')
        self.lo, self.hi = float(raw[self.train].min()), float(raw[self.train].max())
        self.raw = raw
        self.q = (raw - self.lo) / (self.hi - self.lo)
        self.emb = fr_embeddings(data, faces, np.concatenate([self.train, self.val, self.heldout]), mirror)
        ids = [it['identity'] for it in self.items]
        self.centres, self.has_centre = identity_centres(ids, self.train, self.q, self.emb, beta, centre_min)


# ---- training -----------------------------------------------------------------------------------

@torch.no_grad()
def optimised_target(feat: torch.Tensor, q: torch.Tensor, centre: torch.Tensor, has: torch.Tensor, eps: float) -> torch.Tensor:
    """eDifFIQA's label optimisation: clamp(q - eps (1 - cos(feature, identity centre)), 0, 1), without
    gradient; q itself for a face whose identity has no centre."""
    cos_c = F.cosine_similarity(feat, centre, dim=1)
    return torch.where(has, (q - eps * (1 - cos_c)).clamp(0, 1), q)


def step_loss(model: EDifFIQAOwn, ds: TrainSet, idx: np.ndarray, rng: np.random.Generator,
              eps: float, theta: float, prefix: np.ndarray | None = None) -> tuple[torch.Tensor, dict]:
    """The recipe's loss on one batch; `prefix` (from prefix_features) spares the frozen layers."""
    mirrored = rng.random(len(idx)) < 0.5
    side = mirrored.astype(int)
    teacher = torch.from_numpy(ds.emb[idx, side])
    if prefix is not None:
        feat, qhat = model.rest(torch.from_numpy(prefix[idx, side].astype(np.float32)))
    else:
        faces = np.stack([ds.faces[i][:, ::-1] if m else ds.faces[i] for i, m in zip(idx, mirrored)])
        feat, qhat = model(to_imagenet(faces))
    q = torch.from_numpy(ds.q[idx].astype(np.float32))
    centre = torch.from_numpy(ds.centres[idx])
    has = torch.from_numpy(ds.has_centre[idx])
    target = optimised_target(feat, q, centre, has, eps)
    rc = (1 - F.cosine_similarity(feat, teacher, dim=1)).mean()
    l1 = (qhat[:, 0] - target).abs().mean()
    return theta * rc + (1 - theta) * l1, {'rc': float(rc), 'l1': float(l1)}


def train(args) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    ds = TrainSet(args.data, args.labels, args.mirror, args.beta, args.centre_min, args.val_fraction)
    model = pretrained(args.mirror, args.freeze)
    model.freeze()
    head = list(model.mlp.parameters())
    backbone = [p for p in model.base_model.parameters() if p.requires_grad]
    opt = torch.optim.Adam([{'params': head, 'lr': args.lr_head}, {'params': backbone, 'lr': args.lr_backbone}])
    ckpt_path, step, lineage = out / 'last.pt', 0, []
    if ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location='cpu', weights_only=False)
        model.load_state_dict(ck['model'])
        opt.load_state_dict(ck['opt'])
        step, lineage = ck['step'], ck.get('lineage', [])
    elif args.init_from:
        ck = torch.load(args.init_from, map_location='cpu', weights_only=False)
        model.load_state_dict(ck['model'])
        lineage = ck.get('lineage', []) + [{'steps': ck['step'], 'train_count': ck.get('train_count')}]
        print(f'initialised from {args.init_from} (step {ck["step"]}); optimiser state starts afresh')
    prefix = prefix_features(args.data, ds.faces, ds.train, model)
    print(json.dumps({'train': len(ds.train), 'validation': len(ds.val), 'heldout': len(ds.heldout), 'with_centre': int(ds.has_centre[ds.train].sum()),
                      'label_min': ds.lo, 'label_max': ds.hi, 'start_step': step}))

    def checkpoint() -> None:
        state = {'model': model.state_dict(), 'step': step, 'label_min': ds.lo, 'label_max': ds.hi,
                 'frozen_blocks': args.freeze, 'train_count': len(ds.train), 'val_fraction': args.val_fraction, 'data': str(args.data.name),
                 'lineage': lineage, 'recipe': {'beta': args.beta, 'centre_min': args.centre_min, 'eps': args.eps,
                                                'theta': args.theta, 'lr_head': args.lr_head,
                                                'lr_backbone': args.lr_backbone, 'batch': args.batch}}
        save_checkpoint(out / 'weights.pt', state)
        save_checkpoint(ckpt_path, {**state, 'opt': opt.state_dict()})

    deadline = time.monotonic() + args.minutes * 60
    next_ckpt = time.monotonic() + args.ckpt_minutes * 60
    model.train()
    with open(out / 'loss.csv', 'a', newline='') as f:
        log = csv.writer(f)
        while time.monotonic() < deadline and (args.steps is None or step < args.steps):
            idx = batch_indices(ds.train, step, args.batch, args.seed)
            loss, parts = step_loss(model, ds, idx, np.random.default_rng([args.seed, 2, step]), args.eps, args.theta, prefix)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(head + backbone, 5.0)
            opt.step()
            step += 1
            log.writerow([step, round(float(loss), 5), round(parts['rc'], 5), round(parts['l1'], 5)])
            if step % 100 == 0:
                f.flush()
                print(f'step {step} loss {float(loss):.4f} rc {parts["rc"]:.4f} l1 {parts["l1"]:.4f}', flush=True)
            if time.monotonic() >= next_ckpt:
                checkpoint()
                next_ckpt = time.monotonic() + args.ckpt_minutes * 60
    checkpoint()
    print(f'step {step}: checkpoint {ckpt_path}')
    return 0


# ---- evaluation and export ------------------------------------------------------------------------

@torch.no_grad()
def predict(model: EDifFIQAOwn, faces: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    model.eval()
    feats, qs = [], []
    for k in range(0, len(faces), batch):
        f, q = model(to_imagenet(faces[k:k + batch]))
        feats.append(f.numpy())
        qs.append(q[:, 0].numpy())
    return np.concatenate(feats), np.concatenate(qs)


def evaluate(args) -> int:
    ck = torch.load(args.out / 'weights.pt', map_location='cpu', weights_only=False)
    ds = TrainSet(args.data, args.labels, args.mirror, args.beta, args.centre_min, ck.get('val_fraction', args.val_fraction))
    model = EDifFIQAOwn(ck['frozen_blocks'])
    model.load_state_dict(ck['model'])
    # weights from before the validation split saw those identities: their validation row only compares
    result = {'step': ck['step'], 'trained_on_validation': 'val_fraction' not in ck}
    clean = np.array([it['kind'] == 'clean' for it in ds.items])
    subsets = (('heldout', ds.heldout), ('heldout_unmodified', ds.heldout[clean[ds.heldout]]), ('train', ds.train[:1000]))
    for name, idx in subsets:
        feat, q = predict(model, ds.faces[idx])
        rc = float(np.mean(np.sum(feat * ds.emb[idx, 0], 1) / np.linalg.norm(feat, axis=1) / np.linalg.norm(ds.emb[idx, 0], axis=1)))
        result[name] = {'count': int(len(idx)), 'spearman': round(spearman(q, ds.raw[idx]), 4),
                        'pearson': round(pearson(q, ds.raw[idx]), 4), 'fr_cosine': round(rc, 4)}
    if len(ds.val):
        result['validation'] = validation_edc(model, ds)
    (args.out / 'eval.json').write_text(json.dumps(result, indent=1) + '\n')
    print(json.dumps(result))
    return 0


def validation_edc(model: EDifFIQAOwn, ds: TrainSet) -> dict:
    """How the model ranks the validation identities' faces for recognition (EDC pAUC with the
    teacher's similarities), beside the embedding norm and the full-DifFIQA labels it learnt from:
    the number that chooses settings and checkpoints, LFW only."""
    idx = ds.val
    _, q = predict(model, ds.faces[idx])
    emb = ds.emb[idx, 0]
    ids = [ds.items[i]['identity'] for i in idx]
    scores = {'model': q, 'embedding-norm': np.linalg.norm(emb, axis=1), 'labels': ds.raw[idx],
              'random': np.random.default_rng(0).random(len(idx))}
    return {'count': int(len(idx)), 'identities': len(set(ids)), **edc_table(emb, ids, scores)}


def export(weights: Path, onnx_path: Path) -> int:
    ck = torch.load(weights, map_location='cpu', weights_only=False)
    model = EDifFIQAOwn(ck['frozen_blocks'])
    model.load_state_dict(ck['model'])
    wrapped = QualityOnly(model).eval()
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(wrapped, (torch.zeros(2, 3, 112, 112),), str(onnx_path), input_names=['input'],
                      output_names=['score'], dynamic_axes={'input': {0: 'N'}, 'score': {0: 'N'}},
                      opset_version=17, do_constant_folding=True, dynamo=False)
    diff = onnx_score_diff(wrapped, onnx_path, 4.0, -2.0)
    if diff is None:
        print(f'error: onnx output shape is not [N,1] for batches of 3 and 1', file=sys.stderr)
        return 1
    sha = sha256_file(onnx_path)
    entry = regressor_manifest_entry(MODEL_ID, onnx_path, sha, f'own-{datetime.now(timezone.utc):%Y%m%d}-{ck["step"]}', LICENCE)
    print(f'{onnx_path}: step {ck["step"]}, {onnx_path.stat().st_size / 1e6:.2f} MB, max |onnx - torch| {diff:.2g}')
    print(json.dumps(entry, indent=2))
    return 0 if diff < 1e-4 else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', type=Path, default=cache_dir() / 'datasets' / 'trainset')
    ap.add_argument('--labels', type=Path, default=REPO_ROOT / 'models' / 'own' / 'labels' / 'trainset-diffiqa.jsonl')
    ap.add_argument('--out', type=Path, default=cache_dir() / 'train' / 'ediffiqa')
    ap.add_argument('--mirror', type=Path, default=shared_dir())
    ap.add_argument('--init-from', type=Path, help='weights.pt of an earlier run (e.g. the committed one)')
    ap.add_argument('--minutes', type=float, default=30)
    ap.add_argument('--steps', type=int, help='stop after this many steps in all (tests)')
    ap.add_argument('--ckpt-minutes', type=float, default=3)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--freeze', type=int, default=12, help='leading inverted-residual blocks kept frozen (plus the stem)')
    ap.add_argument('--beta', type=float, default=0.2)
    ap.add_argument('--centre-min', type=int, default=1)
    ap.add_argument('--eps', type=float, default=0.5)
    ap.add_argument('--theta', type=float, default=0.5)
    ap.add_argument('--lr-head', type=float, default=1e-3)
    ap.add_argument('--lr-backbone', type=float, default=1e-4)
    ap.add_argument('--val-fraction', type=float, default=0.15,
                    help='share of the train identities kept back to choose settings (tools.splits.validation)')
    ap.add_argument('--eval', action='store_true', help='held-out numbers of <out>/weights.pt')
    ap.add_argument('--export', type=Path, metavar='ONNX', help='export <out>/weights.pt (or --init-from)')
    args = ap.parse_args(argv)
    if args.export:
        return export(args.init_from or args.out / 'weights.pt', args.export)
    if args.eval:
        return evaluate(args)
    return train(args)


if __name__ == '__main__':
    sys.exit(main())
