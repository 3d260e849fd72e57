"""Trains the small restoration UNet (tools.denoiser_arch) with the "extended DDPM" scheme of
DIFFIQA.md, resumably, within a time budget.

Per sample: clean face c (random horizontal flip), degraded copy d = degrade(c) (BSRGAN-style,
rounds with probability 1, 0.2, 0.01), t ~ U{0..99}, a = sin(t/100 * pi/2),
x = sqrt(aBar_t) * ((1-a) c + a d) + sqrt(1-aBar_t) * eps, loss = mean (UNet(x, t) - c)^2 (pred_x0,
L2). Adam(lr, betas 0.9/0.99); EMA of the weights with decay 0.995 (warm-up
min(0.995, 1 - (1+step)^(-2/3)), as ema-pytorch does). Images are in [-1,1].

Data: <data>/faces.u8 (N x 112 x 112 x 3 uint8 RGB, aligned faces) and <data>/index.json
({count, files, identities}). Checkpoints go to <out>/last.pt every --ckpt-every steps and when
the budget ends; a new run resumes from it (the step counter continues). Each step's randomness is
seeded from (seed, step), so a resumed run draws the same batches as an uninterrupted one.
Loss goes to <out>/loss.csv. --export writes the EMA weights as ONNX: `x` [N,3,112,112], `t`
int64 [N] -> `x0` [N,3,112,112] (unclamped), the same contract as the tiny test denoiser.

    PYTHONPATH=models python -m tools.train_denoiser --minutes 60
    PYTHONPATH=models python -m tools.train_denoiser --export .cache/models/restore-unet.onnx
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from tools.common import cache_dir, sha256_file
from tools.degrade import degrade
from tools.denoiser_arch import UNet, UNetConfig, count_params
from tools.diffiqa_ref import alpha_bar

TIME_BOUND = 100
EMA_DECAY = 0.995
MAX_ONNX_BYTES = 25 * 1024 * 1024


def load_faces(data: Path) -> np.ndarray:
    index = json.loads((data / 'index.json').read_text())
    count = int(index['count'])
    raw = data / 'faces.u8'
    expected = count * 112 * 112 * 3
    if raw.stat().st_size != expected:
        raise ValueError(f'{raw}: {raw.stat().st_size} bytes, index.json says {count} faces ({expected} bytes)')
    return np.memmap(raw, dtype=np.uint8, mode='r', shape=(count, 112, 112, 3))


def to_unit(batch_u8: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(batch_u8)).permute(0, 3, 1, 2).float() / 255.0
    return x * 2 - 1


# Why: the degradations that make a face unrecognisable on camera crops (low resolution, defocus,
# motion). A denoiser that learned to undo them moves such faces most when it restores them, which
# is what full DifFIQA measures; BSRGAN rounds alone left them in the middle of its order.
RECOGNITION_KINDS = ('downscale', 'blur', 'motion')


def recognition_degrade(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from tools.make_regset import _param, apply_op
    kind = RECOGNITION_KINDS[int(rng.integers(len(RECOGNITION_KINDS)))]
    return apply_op(np.ascontiguousarray(img), kind, _param(kind, float(rng.random())), rng)[0]


def make_batch(faces: np.ndarray, batch: int, rng: np.random.Generator, degrade_scale: int, recognition: float = 0.0):
    idx = rng.integers(0, len(faces), size=batch)
    clean = np.stack([faces[i][:, ::-1] if rng.random() < 0.5 else faces[i] for i in idx])
    lq = np.stack([recognition_degrade(c, rng) if recognition and rng.random() < recognition
                   else degrade(c, rng, degrade_scale) for c in clean])
    return to_unit(clean), to_unit(lq)


class Schedule:
    def __init__(self):
        ab = alpha_bar()
        self.sqrt_ab = torch.from_numpy(np.sqrt(ab)).float()
        self.sqrt_1mab = torch.from_numpy(np.sqrt(1 - ab)).float()

    def noised_input(self, clean, lq, t, eps):
        a = torch.sin(t.float() / TIME_BOUND * (math.pi / 2))[:, None, None, None]
        blend = (1 - a) * clean + a * lq
        return self.sqrt_ab[t][:, None, None, None] * blend + self.sqrt_1mab[t][:, None, None, None] * eps


def ema_decay(step: int) -> float:
    return min(EMA_DECAY, 1 - (1 + step) ** (-2 / 3))


def save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_suffix('.tmp')
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(args) -> int:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / 'last.pt'
    device = torch.device(args.device)
    faces = load_faces(args.data)
    if args.exclude_heldout:
        from tools.splits import heldout
        ids = json.loads((args.data / 'index.json').read_text())['identities']
        keep = [i for i, name in enumerate(ids) if not heldout(name)]
        print(f'{len(faces) - len(keep)} faces of held-out identities (tools.splits) left out')
        faces = np.asarray(faces[keep])
    if ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
        cfg = UNetConfig.from_dict(ckpt['config'])
    else:
        ckpt, cfg = None, UNetConfig(dim=args.dim)
    torch.manual_seed(args.seed)
    model = UNet(cfg).to(device)
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))
    step = 0
    if ckpt is not None:
        model.load_state_dict(ckpt['model'])
        ema.load_state_dict(ckpt['ema'])
        opt.load_state_dict(ckpt['opt'])
        step = int(ckpt['step'])
        print(f'resumed from {ckpt_path} at step {step}')
    elif args.init_onnx:
        weights = weights_from_onnx(args.init_onnx, model)
        model.load_state_dict(weights)
        ema.load_state_dict(weights)
        step = args.init_step
        print(f'initialised from {args.init_onnx} (its EMA weights) at step {step}; optimiser state starts afresh')
    for p in ema.parameters():
        p.requires_grad_(False)
    print(f'UNet {count_params(model):,} parameters, {len(faces)} faces, device {device}')
    sched = Schedule()
    log_new = not (out / 'loss.csv').is_file()
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else math.inf
    start = time.monotonic()

    def checkpoint():
        save_checkpoint(ckpt_path, {'step': step, 'config': cfg.to_dict(), 'model': model.state_dict(),
                                    'ema': ema.state_dict(), 'opt': opt.state_dict(), 'seed': args.seed})

    with open(out / 'loss.csv', 'a', newline='') as log_file:
        log = csv.writer(log_file)
        if log_new:
            log.writerow(['step', 'loss', 'seconds', 'images_per_s'])
        while step < args.steps and time.monotonic() < deadline:
            t0 = time.monotonic()
            rng = np.random.default_rng([args.seed, step])
            gen = torch.Generator().manual_seed(args.seed * 1_000_003 + step)
            opt.zero_grad(set_to_none=True)
            total = 0.0
            for _ in range(args.grad_accum):
                clean, lq = make_batch(faces, args.batch, rng, args.degrade_scale, args.recognition)
                t = torch.randint(0, TIME_BOUND, (args.batch,), generator=gen)
                eps = torch.randn(clean.shape, generator=gen)
                x = sched.noised_input(clean, lq, t, eps)
                loss = F.mse_loss(model(x.to(device), t.to(device)), clean.to(device)) / args.grad_accum
                loss.backward()
                total += float(loss)
            opt.step()
            step += 1
            with torch.no_grad():
                d = ema_decay(step)
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(pm.detach(), 1 - d)
            dt = time.monotonic() - t0
            log.writerow([step, f'{total:.6f}', f'{time.monotonic() - start:.1f}',
                          f'{args.batch * args.grad_accum / dt:.2f}'])
            log_file.flush()
            if step % args.ckpt_every == 0:
                checkpoint()
        checkpoint()
    print(f'stopped at step {step}; checkpoint {ckpt_path}')
    return 0


def weights_from_onnx(onnx_path: Path, model: UNet) -> dict:
    """The state dict of an exported UNet, read back from its ONNX file, so that a shipped denoiser
    can be trained further on a machine where its checkpoint is gone. Named initialisers carry the
    parameter names (`unet.<key>`); the exporter folds each GroupNorm's weight and bias into
    anonymous Mul/Add constants, which appear in parameter order."""
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(str(onnx_path)).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    named = {k: init[f'unet.{k}'] for k in model.state_dict() if f'unet.{k}' in init}
    missing = [k for k in model.state_dict() if k not in named]
    anonymous = [n for n in init if not n.startswith('unet.')]
    if len(missing) != len(anonymous):
        raise ValueError(f'{onnx_path}: {len(missing)} parameters not named, {len(anonymous)} anonymous constants')
    for key, name in zip(missing, anonymous):
        want = 'Mul' if key.endswith('.weight') else 'Add'
        if want not in name or init[name].size != model.state_dict()[key].numel():
            raise ValueError(f'{onnx_path}: cannot match {key} with {name}')
        named[key] = init[name].reshape(model.state_dict()[key].shape)
    return {k: torch.from_numpy(np.array(named[k])) for k in model.state_dict()}


class _Exportable(torch.nn.Module):
    def __init__(self, unet: UNet):
        super().__init__()
        self.unet = unet

    def forward(self, x, t):
        return self.unet(x, t)


def export(ckpt_path: Path, onnx_path: Path) -> int:
    import onnxruntime as ort
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    model = UNet(UNetConfig.from_dict(ckpt['config']))
    model.load_state_dict(ckpt['ema'])
    model.eval()
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    x = torch.zeros(2, 3, 112, 112)
    t = torch.zeros(2, dtype=torch.int64)
    torch.onnx.export(_Exportable(model), (x, t), str(onnx_path), input_names=['x', 't'], output_names=['x0'],
                      dynamic_axes={'x': {0: 'N'}, 't': {0: 'N'}, 'x0': {0: 'N'}}, opset_version=17, dynamo=False)
    size = onnx_path.stat().st_size
    if size > MAX_ONNX_BYTES:
        print(f'error: {onnx_path} is {size} bytes, above {MAX_ONNX_BYTES}', file=sys.stderr)
        return 1
    probe = torch.randn(3, 3, 112, 112, generator=torch.Generator().manual_seed(0)).clamp(-1, 1)
    tp = torch.tensor([4, 1, 0])
    with torch.no_grad():
        want = model(probe, tp).numpy()
    sess = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    got = sess.run(['x0'], {'x': probe.numpy(), 't': tp.numpy()})[0]
    diff = float(np.abs(got - want).max())
    print(f'{onnx_path}: step {ckpt["step"]}, {size / 1e6:.1f} MB, max |onnx - torch| {diff:.2g}, '
          f'sha256 {sha256_file(onnx_path)}')
    return 0 if diff < 1e-4 else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', type=Path, default=cache_dir() / 'datasets' / 'lfw-aligned')
    ap.add_argument('--out', type=Path, default=cache_dir() / 'train' / 'denoiser')
    ap.add_argument('--minutes', type=float, default=0, help='time budget for this run (0: no limit)')
    ap.add_argument('--steps', type=int, default=100_000, help='total optimiser steps, resumed runs included')
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--grad-accum', type=int, default=1)
    ap.add_argument('--lr', type=float, default=8e-5)
    ap.add_argument('--dim', type=int, default=UNetConfig.dim, help='only used when starting from scratch')
    ap.add_argument('--ckpt-every', type=int, default=200)
    ap.add_argument('--degrade-scale', type=int, default=2, choices=(2, 4))
    ap.add_argument('--exclude-heldout', action='store_true',
                    help='leave out the identities tools.splits holds out for evaluation')
    ap.add_argument('--recognition', type=float, default=0.0,
                    help='share of samples degraded by low resolution, blur or motion (tools.make_regset) instead of BSRGAN rounds')
    ap.add_argument('--init-onnx', type=Path, metavar='ONNX',
                    help='without a checkpoint in --out: start from an exported denoiser (e.g. the shipped one)')
    ap.add_argument('--init-step', type=int, default=0, help='with --init-onnx: the step count it was exported at')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--threads', type=int, default=0, help='torch CPU threads (0: torch default)')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--export', type=Path, metavar='ONNX', help='export the EMA weights of the last checkpoint')
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    # Tiny weights/activations hit x86 denormal slow paths: measured 20 s vs 0.5 s per step here.
    torch.set_flush_denormal(True)
    if args.export:
        return export(args.out / 'last.pt', args.export)
    return train(args)


if __name__ == '__main__':
    sys.exit(main())
