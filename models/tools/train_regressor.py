"""Trains the project's own quality regressor (tools.regressor_arch) on full-DifFIQA labels,
resumably, within a time budget, and exports it as ONNX.

    PYTHONPATH=models python -m tools.train_regressor --data .cache/datasets/regset \
        --labels .cache/datasets/regset/labels.jsonl --minutes 15
    PYTHONPATH=models python -m tools.train_regressor --export models/own/diffiqa-r-own.onnx

Data: <data>/faces.u8 + index.json from tools.make_regset (its `items[].split` says train or
heldout). Labels: JSON lines {"i": face index, "score": q, "std": s} from the TypeScript `label`
command; faces without a finite label are left out. Targets are min-max normalised to [0,1] over
the labelled TRAIN faces (as the official DifFIQA(R) does); min/max are fixed by the first run and
kept in the checkpoint, so a resumed run trains on the same scale.

Distillation (--distill W > 0, an extra target the issue allows): a training-only head on the
regressor's pooled features predicts the FR embedder's raw-embedding norm of the crop and its flip
cosine (tools.teacher: why these, and the per-face cache); adds W x its L1 loss. The head is not
exported: the ONNX model is the same network either way.

Ranking (--rank W > 0): the gate uses the score to order and threshold faces, so what counts is the
order (Spearman), which L1 on its own reaches only through the values. W x a pairwise logistic loss
over the batch's pairs, log(1 + exp(-(s_i - s_j) sign(y_i - y_j) / RANK_TAU)), pushes the order
directly; pairs whose labels differ by less than RANK_MIN_GAP (label noise of 3 repeats) are skipped.

Training: L1 loss, Adam, batches drawn epoch-wise from a permutation seeded by (seed, epoch);
augmentation: horizontal flip and a shift of up to --shift px (edge padding), seeded by (seed,
step), so a resumed run repeats an uninterrupted one. An EMA of the weights is what gets evaluated
and exported. Checkpoint <out>/last.pt every --ckpt-every steps and at the end; loss to
<out>/loss.csv, periodic held-out numbers to <out>/eval.csv; at the end the held-out Spearman and
Pearson correlations (and the train split's, to see over-fitting) are printed as JSON and written to
<out>/eval.json. --export writes ONNX (`input` [N,3,112,112] -> `score` [N,1], normalised-label
units), checks onnxruntime against PyTorch, writes a model card next to it and prints the sha256
and a manifest entry.
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tools.common import cache_dir, onnx_score_diff, regressor_manifest_entry, sha256_file, shared_dir
from tools.stats import pearson, spearman
from tools.teacher import DistillHeads, DistillPool, cached_targets, distill_loss, norm_scale, scaled_targets
from tools.regressor_arch import FlipAverage, QualityRegressor, RegressorConfig, count_flops, count_params
from tools.regset_data import Dataset, batch_indices, load_items, load_labels  # noqa: F401 (re-exported for the tools' callers)
from tools.train_denoiser import save_checkpoint, to_unit

MODEL_ID = 'diffiqa-r-own'
LICENCE = 'Apache-2.0 (weights trained on LFW: research use only)'
MAX_ONNX_BYTES = 10 * 1024 * 1024


# ---- training ---------------------------------------------------------------------------------

def augment(faces_u8: np.ndarray, rng: np.random.Generator, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Randomly mirrored and shifted copies, and which of them were mirrored."""
    out = np.empty_like(faces_u8)
    mirrored = np.zeros(len(faces_u8), bool)
    h, w = faces_u8.shape[1:3]
    for j, img in enumerate(faces_u8):
        if rng.random() < 0.5:
            img = img[:, ::-1]
            mirrored[j] = True
        if shift:
            dy, dx = rng.integers(-shift, shift + 1, 2)
            pad = np.pad(img, ((shift, shift), (shift, shift), (0, 0)), mode='edge')
            img = pad[shift + dy:shift + dy + h, shift + dx:shift + dx + w]
        out[j] = img
    return out, mirrored


def ema_decay(step: int, decay: float) -> float:
    return min(decay, 1 - (1 + step) ** (-2 / 3))


@torch.no_grad()
def predict(model: torch.nn.Module, faces_u8: np.ndarray, batch: int = 64) -> np.ndarray:
    model.eval()
    out = [model(to_unit(faces_u8[k:k + batch]))[:, 0].numpy() for k in range(0, len(faces_u8), batch)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _rounded(v: float) -> float | None:
    return round(v, 4) if math.isfinite(v) else None       # constant predictions: no correlation (JSON null)


def evaluate(model, ds: Dataset, lo: float, hi: float, max_train: int = 1000) -> dict:
    result = {}
    for name, idx in (('heldout', ds.heldout), ('train', ds.train[:max_train])):
        if len(idx) < 2:
            result[name] = {'count': int(len(idx))}
            continue
        pred = predict(model, ds.faces[idx])
        target = (ds.scores[idx] - lo) / (hi - lo)
        result[name] = {'count': int(len(idx)), 'spearman': _rounded(spearman(pred, target)),
                        'pearson': _rounded(pearson(pred, target)),
                        'mae': _rounded(float(np.abs(pred - target).mean()))}
    return result


RANK_TAU = 0.05        # normalised-label units: a pair 0.05 apart in score costs log(1 + e^-1)
RANK_MIN_GAP = 0.02    # ~3x the labels' repeat noise (std 0.0013 of q over a 0.26 range ~ 0.005)


def rank_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean pairwise logistic loss over the batch's pairs with clearly different labels."""
    dy = target[:, None] - target[None, :]
    ds = pred[:, None] - pred[None, :]
    mask = dy.abs() > RANK_MIN_GAP
    if not bool(mask.any()):
        return pred.sum() * 0
    return F.softplus(-ds[mask] * torch.sign(dy[mask]) / RANK_TAU).mean() * RANK_TAU


def build(args, ckpt: dict | None, init: dict | None = None, distill: float = 0.0) \
        -> tuple[QualityRegressor, QualityRegressor, torch.optim.Optimizer, int, DistillHeads | None]:
    """A resumed run restores everything from its checkpoint `ckpt`; a new run from `init` (another
    run's checkpoint, --init-from) starts at step 0 with a fresh optimiser from its weights
    (fine-tuning on new labels or targets). `distill` > 0 adds the distillation heads."""
    source = ckpt or init
    cfg = RegressorConfig.from_dict(source['config']) if source else RegressorConfig(width=args.width)
    torch.manual_seed(args.seed)
    model = QualityRegressor(cfg)
    ema = copy.deepcopy(model)
    heads = DistillHeads(cfg.head) if distill > 0 else None
    params = list(model.parameters()) + (list(heads.parameters()) if heads else [])
    opt = torch.optim.Adam(params, lr=args.lr)
    step = 0
    if source:
        model.load_state_dict(source['model'])
        ema.load_state_dict(source['ema'])
    if ckpt:
        if heads:
            heads.load_state_dict(ckpt['heads'])
        opt.load_state_dict(ckpt['opt'])
        step = int(ckpt['step'])
    for p in ema.parameters():
        p.requires_grad_(False)
    return model, ema.eval(), opt, step, heads


def train(args) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / 'last.pt'
    ds = Dataset(args.data, args.labels)
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False) if ckpt_path.is_file() else None
    init = torch.load(args.init_from, map_location='cpu', weights_only=False) if not ckpt and args.init_from else None
    distill = float(ckpt.get('distill', 0.0)) if ckpt else args.distill      # a resumed run keeps its own
    rank = float(ckpt.get('rank', 0.0)) if ckpt else args.rank
    model, ema, opt, step, heads = build(args, ckpt, init, distill)
    teacher = pool = None
    if heads:                 # the FR embedder's targets, computed once per face and cached with the data
        table = cached_targets(args.data, ds.faces, np.concatenate([ds.train, ds.heldout]), args.mirror)
        scale = norm_scale(table, ds.train)
        teacher = torch.from_numpy(scaled_targets(table, scale)).float()
        pool = DistillPool(args.distill_data, ds.heldout_identities, args.mirror, scale) if args.distill_data else None
        if pool:
            print(f'distillation: {len(pool)} more faces from {", ".join(p.name for p in args.distill_data)}, {args.distill_batch} a step')
    lo, hi = ds.train_range()
    lineage = ckpt.get('lineage', []) if ckpt else []
    if init:
        lo, hi = init['label_min'], init['label_max']      # the weights speak this scale
        lineage = init.get('lineage', []) + [{'steps': int(init['step']), 'train_count': init.get('train_count'),
                                              'distill': float(init.get('distill', 0.0)), 'rank': float(init.get('rank', 0.0)),
                                              **({'distill_faces': init['distill_faces']} if init.get('distill_faces') else {})}]
        print(f'fine-tuning the weights of {args.init_from} (step {init["step"]}), label range kept')
    if ckpt:
        print(f'resumed from {ckpt_path} at step {step}')
        if (lo, hi) != (ckpt['label_min'], ckpt['label_max']):
            print(f'warning: these labels span [{lo}, {hi}]; keeping the checkpoint\'s scale '
                  f'[{ckpt["label_min"]}, {ckpt["label_max"]}]', file=sys.stderr)
        lo, hi = ckpt['label_min'], ckpt['label_max']
    print(f'regressor {count_params(model):,} parameters; {len(ds.train)} train / {len(ds.heldout)} held-out '
          f'labelled faces ({ds.unlabelled} unlabelled left out); label range [{lo:.4f}, {hi:.4f}]')
    targets = torch.from_numpy((ds.scores - lo) / (hi - lo)).float()
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else math.inf
    start = time.monotonic()

    def checkpoint():
        save_checkpoint(ckpt_path, {'step': step, 'config': model.cfg.to_dict(), 'model': model.state_dict(),
                                    'ema': ema.state_dict(), 'opt': opt.state_dict(), 'seed': args.seed,
                                    'label_min': lo, 'label_max': hi, 'data': str(args.data),
                                    'labels': str(args.labels), 'train_count': int(len(ds.train)),
                                    'distill': distill, 'rank': rank, 'lineage': lineage,
                                    'distill_faces': len(pool) if pool else 0, **({'heads': heads.state_dict()} if heads else {})})

    loss_new, eval_new = not (out / 'loss.csv').is_file(), not (out / 'eval.csv').is_file()
    with open(out / 'loss.csv', 'a', newline='') as loss_file, open(out / 'eval.csv', 'a', newline='') as eval_file:
        loss_log, eval_log = csv.writer(loss_file), csv.writer(eval_file)
        if loss_new:
            loss_log.writerow(['step', 'loss', 'seconds', 'images_per_s'])
        if eval_new:
            eval_log.writerow(['step', 'heldout_spearman', 'heldout_pearson', 'heldout_mae', 'train_spearman'])
        while step < args.steps and time.monotonic() < deadline:
            t0 = time.monotonic()
            idx = batch_indices(ds.train, step, args.batch, args.seed)
            crops, mirrored = augment(ds.faces[idx], np.random.default_rng([args.seed, 2, step]), args.shift)
            if pool:            # one forward pass for both: BatchNorm sees one batch
                pidx = pool.batch(step, args.distill_batch, args.seed)
                pcrops, pmirrored = augment(pool.faces[pidx], np.random.default_rng([args.seed, 5, step]), args.shift)
                crops = np.concatenate([crops, pcrops])
            torch.manual_seed(args.seed * 1_000_003 + step)          # dropout masks, per step
            model.train()
            f = model.pooled(to_unit(crops))
            f, fp = f[:len(idx)], f[len(idx):]                       # fp: the pool's faces (none without one)
            pred = model.linear(model.dropout(f))[:, 0]
            loss = F.l1_loss(pred, targets[idx])
            if rank:
                loss = loss + rank * rank_loss(pred, targets[idx])
            if heads:
                loss = loss + distill * distill_loss(heads, f, teacher[idx], torch.from_numpy(mirrored))
                if pool:
                    loss = loss + distill * distill_loss(heads, fp, pool.targets[pidx], torch.from_numpy(pmirrored))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            with torch.no_grad():
                d = ema_decay(step, args.ema)
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(pm.detach(), 1 - d)
                for be, bm in zip(ema.buffers(), model.buffers()):   # BatchNorm statistics
                    be.copy_(bm)
            loss_log.writerow([step, f'{float(loss):.6f}', f'{time.monotonic() - start:.1f}',
                               f'{args.batch / (time.monotonic() - t0):.1f}'])
            loss_file.flush()
            if step % args.ckpt_every == 0:
                checkpoint()
            if args.eval_every and step % args.eval_every == 0:
                e = evaluate(ema, ds, lo, hi, max_train=200)
                eval_log.writerow([step, e['heldout'].get('spearman'), e['heldout'].get('pearson'),
                                   e['heldout'].get('mae'), e['train'].get('spearman')])
                eval_file.flush()
        checkpoint()
    print(f'stopped at step {step}; checkpoint {ckpt_path}')
    return report(ema, ds, lo, hi, step, out)


def report(ema, ds: Dataset, lo: float, hi: float, step: int, out: Path, flip_average: bool = False) -> int:
    model = FlipAverage(ema) if flip_average else ema
    result = {'step': step, 'flip_average': flip_average, 'label_min': lo, 'label_max': hi, **evaluate(model, ds, lo, hi)}
    print(json.dumps(result))
    (out / 'eval.json').write_text(json.dumps(result, indent=1) + '\n')
    return 0


def evaluate_only(args) -> int:
    ckpt = torch.load(args.out / 'last.pt', map_location='cpu', weights_only=False)
    ema = QualityRegressor(RegressorConfig.from_dict(ckpt['config']))     # the network only: no heads, no optimiser
    ema.load_state_dict(ckpt['ema'])
    step = int(ckpt['step'])
    return report(ema, Dataset(args.data, args.labels), ckpt['label_min'], ckpt['label_max'], step, args.out, args.flip_average)


# ---- export -----------------------------------------------------------------------------------

def manifest_entry(onnx_path: Path, sha256: str, version: str) -> dict:
    return regressor_manifest_entry(MODEL_ID, onnx_path, sha256, version, LICENCE, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def model_card(ckpt: dict, model: QualityRegressor | FlipAverage, entry: dict, ev: dict | None) -> str:
    lo, hi = ckpt['label_min'], ckpt['label_max']
    flip = isinstance(model, FlipAverage)
    lines = [
        f'# {MODEL_ID} {entry["version"]}', '',
        'The project\'s own DifFIQA(R)-style quality regressor: a MobileNetV2-style CNN trained from '
        'scratch (no third-party weights) to predict full-DifFIQA scores. Built by '
        '`models/tools/train_regressor.py` (architecture: `models/tools/regressor_arch.py`).', '',
        f'- Input `input` float32 [N,3,112,112], aligned face, RGB, (pixel/255 - 0.5)/0.5.',
        f'- Output `score` float32 [N,1]: the DifFIQA score min-max normalised over the training split, '
        f'so DifFIQA q ~= {lo:.6f} + score * {hi - lo:.6f}. Higher is better; values outside [0,1] occur.'
        + (' The graph scores the face and its mirror image in one batch and outputs the mean (`--flip-average`).'
           if flip else ''),
        f'- Label range (train split): min {lo!r}, max {hi!r}.',
        f'- Architecture: {json.dumps(model.cfg.to_dict())}; {count_params(model):,} parameters, '
        f'{count_flops(model) / 1e9:.3f} GFLOP per image' + (' (both passes)' if flip else '') + '.',
        f'- Training: {ckpt["step"]} steps, {ckpt.get("train_count")} labelled train faces from '
        f'`{Path(ckpt["data"]).name}` (tools.make_regset: LFW aligned faces, clean and degraded), L1 loss, Adam, '
        'flip + shift augmentation, EMA weights' + (f', FR-embedder distillation weight {ckpt["distill"]}' if ckpt.get('distill') else '')
        + (f' (also on {ckpt["distill_faces"]:,} unlabelled faces)' if ckpt.get('distill_faces') else '')
        + (f', pairwise ranking loss weight {ckpt["rank"]}' if ckpt.get('rank') else '')
        + ''.join(f'; before that {st["steps"]} steps on {st["train_count"]} faces'
                  + (f' (distillation {st["distill"]}' + (f' also on {st["distill_faces"]:,} unlabelled faces' if st.get('distill_faces') else '') + ')'
                     if st.get('distill') else '')
                  + (f' (ranking loss {st["rank"]})' if st.get('rank') else '') for st in reversed(ckpt.get('lineage', []))) + '.',
    ]
    if ev and (ev.get('step') != ckpt['step'] or bool(ev.get('flip_average')) != flip):
        lines.append(f'- No evaluation of step {ckpt["step"]}{" with --flip-average" if flip else ""} (eval.json is of step '
                     f'{ev.get("step")}{" with --flip-average" if ev.get("flip_average") else ""}: run --eval).')
    elif ev:
        h, t = ev.get('heldout', {}), ev.get('train', {})
        lines.append(f'- Held-out (identity-disjoint, {h.get("count")} faces): Spearman {h.get("spearman")}, '
                     f'Pearson {h.get("pearson")}, MAE {h.get("mae")} (normalised units); train split: '
                     f'Spearman {t.get("spearman")}.')
    lines += [f'- sha256 `{entry["sha256"]}`.', f'- Licence: {LICENCE}.', '']
    return '\n'.join(lines)


def export(ckpt_path: Path, onnx_path: Path, flip_average: bool = False) -> int:
    import onnx
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    net = QualityRegressor(RegressorConfig.from_dict(ckpt['config']))
    net.load_state_dict(ckpt['ema'])
    model = (FlipAverage(net) if flip_average else net).eval()
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (torch.zeros(2, 3, 112, 112),), str(onnx_path), input_names=['input'],
                      output_names=['score'], dynamic_axes={'input': {0: 'N'}, 'score': {0: 'N'}},
                      opset_version=17, dynamo=False)
    proto = onnx.load(str(onnx_path))
    for key, value in (('label_min', ckpt['label_min']), ('label_max', ckpt['label_max']), ('step', ckpt['step']),
                       ('flip_average', flip_average)):
        proto.metadata_props.add(key=key, value=repr(value))
    onnx.save(proto, str(onnx_path))
    size = onnx_path.stat().st_size
    if size > MAX_ONNX_BYTES:
        print(f'error: {onnx_path} is {size} bytes, above {MAX_ONNX_BYTES}', file=sys.stderr)
        return 1
    diff = onnx_score_diff(model, onnx_path, 2.0, -1.0)
    if diff is None:
        print(f'error: onnx output shape is not [N,1] for batches of 3 and 1', file=sys.stderr)
        return 1
    sha = sha256_file(onnx_path)
    version = f'own-{datetime.now(timezone.utc):%Y%m%d}-{ckpt["step"]}'
    entry = manifest_entry(onnx_path, sha, version)
    eval_path = ckpt_path.parent / 'eval.json'
    ev = json.loads(eval_path.read_text()) if eval_path.is_file() else None
    onnx_path.with_suffix('.md').write_text(model_card(ckpt, model, entry, ev))
    print(f'{onnx_path}: step {ckpt["step"]}, {size / 1e6:.2f} MB, max |onnx - torch| {diff:.2g}, sha256 {sha}')
    print('manifest entry:')
    print(json.dumps(entry, indent=2))
    return 0 if diff < 1e-4 else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', type=Path, default=cache_dir() / 'datasets' / 'regset')
    ap.add_argument('--labels', type=Path, help='JSON lines {i, score, std} (default <data>/labels.jsonl)')
    ap.add_argument('--out', type=Path, default=cache_dir() / 'train' / 'regressor')
    ap.add_argument('--minutes', type=float, default=0, help='time budget for this run (0: no limit)')
    ap.add_argument('--steps', type=int, default=100_000, help='total optimiser steps, resumed runs included')
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--ema', type=float, default=0.995, help='EMA decay of the evaluated/exported weights')
    ap.add_argument('--shift', type=int, default=4, help='max augmentation shift, px')
    ap.add_argument('--width', type=float, default=RegressorConfig.width, help='only used when starting from scratch')
    ap.add_argument('--ckpt-every', type=int, default=200)
    ap.add_argument('--eval-every', type=int, default=200, help='held-out numbers to eval.csv (0: only at the end)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--distill', type=float, default=0.0,
                    help='weight of the FR-embedder distillation targets (0: off); fixed by the first run')
    ap.add_argument('--distill-data', type=Path, action='append', default=[], metavar='DIR',
                    help='a further make_regset set (labels not needed) whose faces serve the distillation target only; repeatable')
    ap.add_argument('--distill-batch', type=int, default=16, help='faces per step drawn from --distill-data')
    ap.add_argument('--rank', type=float, default=0.0,
                    help='weight of the pairwise ranking loss (0: L1 only); a resumed run keeps its own')
    ap.add_argument('--init-from', type=Path, default=None, metavar='CKPT',
                    help='start a new run from the weights and label scale of another run\'s last.pt')
    ap.add_argument('--mirror', type=Path, default=None, help='shared mirror holding models/mobilefacenet.pt (distillation)')
    ap.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    ap.add_argument('--eval', action='store_true', help='only evaluate the last checkpoint')
    ap.add_argument('--flip-average', action='store_true',
                    help='with --eval/--export: score the face and its mirror image, output the mean')
    ap.add_argument('--export', type=Path, metavar='ONNX', help='export the EMA weights of the last checkpoint')
    args = ap.parse_args(argv)
    args.labels = args.labels or args.data / 'labels.jsonl'
    args.mirror = args.mirror or shared_dir()
    torch.set_num_threads(args.threads)
    # Tiny weights/activations hit x86 denormal slow paths (40x slower training measured here).
    torch.set_flush_denormal(True)
    if args.export:
        return export(args.out / 'last.pt', args.export, args.flip_average)
    if args.eval:
        return evaluate_only(args)
    return train(args)


if __name__ == '__main__':
    sys.exit(main())
