"""Re-exports MobileFaceNet (foamliu weights from the shared mirror) to ONNX with a dynamic
batch axis, and checks it against the shipped batch-1 export on real LFW faces.

    PYTHONPATH=models python -m tools.build_embedder --mirror ../shared --out .cache/models
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from export.arch.mobilefacenet import MobileFaceNet
from tools.common import (MOBILEFACENET_PT_SHA256, cache_dir, lfw_face, require_sha256,
                          sha256_file, shared_dir, to_imagenet, write_json)
from tools.stamp import fingerprint, is_fresh, tool_sources, write_stamp

OUT_NAME = 'mobilefacenet-dyn.onnx'
CHECK_FACES = (
    'George_W_Bush/George_W_Bush_0001.jpg',
    'Serena_Williams/Serena_Williams_0001.jpg',
    'Colin_Powell/Colin_Powell_0001.jpg',
    'Angelina_Jolie/Angelina_Jolie_0001.jpg',
)
TOLERANCE = 1e-4


def load_mobilefacenet(mirror: Path) -> MobileFaceNet:
    pt = mirror / 'models' / 'mobilefacenet.pt'
    require_sha256(pt, MOBILEFACENET_PT_SHA256)
    model = MobileFaceNet()
    model.load_state_dict(torch.load(pt, map_location='cpu', weights_only=True), strict=True)
    return model.eval()


def export_dynamic(model: MobileFaceNet, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(2, 3, 112, 112)
    torch.onnx.export(model, (dummy,), str(path), input_names=['input0'], output_names=['output0'],
                      dynamic_axes={'input0': {0: 'N'}, 'output0': {0: 'N'}}, opset_version=17,
                      do_constant_folding=True, dynamo=False)


def check_faces(mirror: Path) -> np.ndarray:
    return np.stack([to_imagenet(lfw_face(mirror, rel)) for rel in CHECK_FACES])


def compare_with_shipped(dyn_path: Path, mirror: Path) -> float:
    """Max |difference| between one batched run of the dynamic model and single runs of the
    shipped batch-1 model, on real faces."""
    shipped = mirror / 'models' / 'mobilefacenet.onnx'
    if not shipped.is_file():
        raise FileNotFoundError(f'{shipped} is missing')
    faces = check_faces(mirror)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    dyn = ort.InferenceSession(str(dyn_path), opts, providers=['CPUExecutionProvider'])
    ref = ort.InferenceSession(str(shipped), opts, providers=['CPUExecutionProvider'])
    batched = dyn.run(['output0'], {'input0': faces})[0]
    single = np.concatenate([ref.run(['output0'], {'input0': f[None]})[0] for f in faces])
    return float(np.abs(batched - single).max())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--mirror', type=Path, default=shared_dir())
    ap.add_argument('--out', type=Path, default=cache_dir() / 'models')
    ap.add_argument('--force', action='store_true')
    args = ap.parse_args(argv)
    mirror, out = args.mirror.resolve(), args.out.resolve()
    fp = fingerprint(tool_sources('tools.build_embedder', 'tools.common', 'export.arch.mobilefacenet'),
                     {'pt': MOBILEFACENET_PT_SHA256, 'torch': torch.__version__})
    if not args.force and is_fresh(out, fp, [OUT_NAME]):
        print(f'{out / OUT_NAME} is up to date')
        return 0
    torch.set_num_threads(1)
    export_dynamic(load_mobilefacenet(mirror), out / OUT_NAME)
    diff = compare_with_shipped(out / OUT_NAME, mirror)
    digest = sha256_file(out / OUT_NAME)
    print(f'{OUT_NAME}: max |batched - shipped| = {diff:.3g} on {len(CHECK_FACES)} LFW faces; sha256 {digest}')
    if diff > TOLERANCE:
        print(f'error: difference above {TOLERANCE}', file=sys.stderr)
        return 1
    write_json(out / 'mobilefacenet-dyn.json', {'file': OUT_NAME, 'sha256': digest, 'maxAbsDiff': diff,
                                                'input': 'input0', 'output': 'output0', 'opset': 17})
    write_stamp(out, fp)
    return 0


if __name__ == '__main__':
    sys.exit(main())
