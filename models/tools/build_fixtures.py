"""Builds the deterministic model fixtures the TypeScript tests read from the cache:

    tiny-regressor.onnx (+ .expected.json)   input `input` [N,3,112,112] -> `score` [N,1]
    tiny-denoiser.onnx (+ .pt, .json)        `x` [N,3,112,112], `t` int64 [N] -> `x0` [N,3,112,112]
    diffiqa-parity/                          full DifFIQA cases with injected noise (see its README.md)

    PYTHONPATH=models python -m tools.build_fixtures --mirror ../shared --out .cache/fixtures
"""
from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path

import numpy as np
import torch

from tools import parity
from tools.common import cache_dir, shared_dir, to_unit_range, write_json
from tools.stamp import fingerprint, is_fresh, tool_sources, write_stamp
from tools.tiny_models import TINY_DENOISER_CONFIG, make_denoiser, make_regressor

IMAGES_SEED = 20240601
OPSET = 17
OUTPUTS = ['tiny-regressor.onnx', 'tiny-regressor.expected.json', 'tiny-denoiser.onnx', 'tiny-denoiser.pt',
           'tiny-denoiser.json', 'diffiqa-parity/expected.json']


def test_images(count: int = 4, seed: int = IMAGES_SEED) -> list[np.ndarray]:
    """Deterministic uint8 HWC RGB images with different structure (smooth, noisy, flat, edges),
    so that a wrong layout, channel order or normalisation changes the regressor's output."""
    rng = np.random.Generator(np.random.PCG64(seed))
    yy, xx = np.mgrid[0:112, 0:112].astype(np.float64) / 111
    imgs = []
    for i in range(count):
        base = np.stack([xx, yy, 1 - xx * yy], axis=-1) if i % 2 == 0 else np.stack([yy, 1 - xx, xx], axis=-1)
        noise = rng.normal(0, 0.08 * (i + 1), size=(112, 112, 3))
        blob = ((xx - rng.uniform(0.2, 0.8)) ** 2 + (yy - rng.uniform(0.2, 0.8)) ** 2 < 0.05)[..., None]
        img = np.clip(base * 0.7 + noise + blob * rng.uniform(-0.5, 0.5, size=3), 0, 1)
        imgs.append(np.round(img * 255).astype(np.uint8))
    return imgs


def export_regressor(out: Path) -> None:
    model = make_regressor()
    torch.onnx.export(model, (torch.zeros(2, 3, 112, 112),), str(out / 'tiny-regressor.onnx'),
                      input_names=['input'], output_names=['score'],
                      dynamic_axes={'input': {0: 'N'}, 'score': {0: 'N'}}, opset_version=OPSET, dynamo=False)
    imgs = test_images()
    with torch.no_grad():
        scores = model(torch.from_numpy(np.stack([to_unit_range(i) for i in imgs]))).numpy()
    write_json(out / 'tiny-regressor.expected.json', {
        'model': 'tiny-regressor.onnx',
        'input': {'name': 'input', 'layout': 'NCHW', 'colorOrder': 'RGB'},
        'output': 'score',
        'normalisation': {'mean': [0.5, 0.5, 0.5], 'std': [0.5, 0.5, 0.5]},
        'images': [{'height': 112, 'width': 112, 'channels': 3, 'layout': 'HWC', 'dtype': 'uint8',
                    'base64': base64.b64encode(i.tobytes()).decode('ascii')} for i in imgs],
        'scores': [float(s) for s in scores[:, 0]],
    })


def export_denoiser(out: Path) -> torch.nn.Module:
    model = make_denoiser()
    torch.save(model.state_dict(), out / 'tiny-denoiser.pt')
    write_json(out / 'tiny-denoiser.json', {'class': 'tools.tiny_models.TinyDenoiser',
                                            'config': TINY_DENOISER_CONFIG.to_dict()})
    x = torch.zeros(2, 3, 112, 112)
    t = torch.zeros(2, dtype=torch.int64)
    torch.onnx.export(model, (x, t), str(out / 'tiny-denoiser.onnx'), input_names=['x', 't'],
                      output_names=['x0'], dynamic_axes={'x': {0: 'N'}, 't': {0: 'N'}, 'x0': {0: 'N'}},
                      opset_version=OPSET, dynamo=False)
    return model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--mirror', type=Path, default=shared_dir())
    ap.add_argument('--out', type=Path, default=cache_dir() / 'fixtures')
    ap.add_argument('--force', action='store_true')
    args = ap.parse_args(argv)
    out, mirror = args.out.resolve(), args.mirror.resolve()
    fp = fingerprint(tool_sources('tools.build_fixtures', 'tools.parity', 'tools.tiny_models', 'tools.denoiser_arch',
                                  'tools.diffiqa_ref', 'tools.common', 'tools.build_embedder',
                                  'export.arch.mobilefacenet'), {'torch': torch.__version__})
    if not args.force and is_fresh(out, fp, OUTPUTS):
        print(f'{out} is up to date')
        return 0
    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    export_regressor(out)
    denoiser = export_denoiser(out)
    parity.build(mirror, denoiser, out / 'diffiqa-parity')
    write_stamp(out, fp)
    print(f'fixtures written to {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
