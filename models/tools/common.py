"""Paths, checksums and image helpers shared by the model tools."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

MODELS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = MODELS_DIR.parent

MOBILEFACENET_PT_SHA256 = '90a00ba1d8b0b688af3deb731ed53dca582e6106805d1bc3cfdef55f570493f4'
# The embedder's own normalisation (see models/manifest.json): RGB in [0,1], ImageNet mean/std.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def cache_dir() -> Path:
    env = os.environ.get('DIFFIQA_CACHE')
    return Path(env).resolve() if env else REPO_ROOT / '.cache'


def shared_dir() -> Path:
    env = os.environ.get('DIFFIQA_SHARED')
    return Path(env).resolve() if env else (REPO_ROOT / '..' / 'shared').resolve()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def require_sha256(path: Path, expected: str) -> None:
    if not path.is_file():
        raise FileNotFoundError(f'{path} is missing (is the shared asset mirror at ../shared?)')
    got = sha256_file(path)
    if got != expected:
        raise ValueError(f'{path}: sha256 {got} != expected {expected}')


def lfw_face(mirror: Path, rel: str, crop: int = 150, size: int = 112) -> np.ndarray:
    """A rough face crop from an LFW deep-funneled image (250x250, face centred): centre crop of
    `crop` px resized to `size` with PIL bilinear. uint8 HWC RGB. Not a landmark alignment."""
    path = mirror / 'data' / 'lfw' / rel
    if not path.is_file():
        raise FileNotFoundError(f'{path} is missing (LFW is read from the shared mirror)')
    img = Image.open(path).convert('RGB')
    w, h = img.size
    left, top = (w - crop) // 2, (h - crop) // 2
    img = img.crop((left, top, left + crop, top + crop)).resize((size, size), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8).copy()


def to_unit_range(img_u8: np.ndarray) -> np.ndarray:
    """uint8 HWC -> float32 CHW in [-1,1]: (x/255 - 0.5)/0.5, the DifFIQA input contract."""
    x = img_u8.astype(np.float32) / np.float32(255.0)
    return ((x - np.float32(0.5)) / np.float32(0.5)).transpose(2, 0, 1).copy()


def to_imagenet(img_u8: np.ndarray) -> np.ndarray:
    """uint8 HWC -> float32 CHW with the embedder's ImageNet normalisation."""
    x = img_u8.astype(np.float32) / np.float32(255.0)
    mean = np.asarray(IMAGENET_MEAN, np.float32)
    std = np.asarray(IMAGENET_STD, np.float32)
    return ((x - mean) / std).transpose(2, 0, 1).copy()


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1) + '\n')


def onnx_score_diff(model, onnx_path: Path, probe_scale: float = 1.0, probe_shift: float = 0.0) -> float | None:
    """Max |ONNX - PyTorch| of a quality model (`input` [N,3,112,112] -> `score` [N,1]) at two batch
    sizes, so that the batch axis is known to be really dynamic; None when a shape is wrong.
    Probes: seeded uniform [0,1) noise, times `probe_scale` plus `probe_shift`."""
    import onnxruntime as ort
    import torch
    sess = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    diff = 0.0
    for n in (3, 1):
        probe = torch.rand(n, 3, 112, 112, generator=torch.Generator().manual_seed(n)) * probe_scale + probe_shift
        with torch.no_grad():
            want = model(probe).numpy()
        got = sess.run(['score'], {'input': probe.numpy()})[0]
        if got.shape != (n, 1):
            return None
        diff = max(diff, float(np.abs(got - want).max()))
    return diff


def regressor_manifest_entry(model_id: str, onnx_path: Path, sha256: str, version: str, licence: str,
                             mean=IMAGENET_MEAN, std=IMAGENET_STD) -> dict:
    """The models/manifest.json entry of an exported quality model (`input` -> `score` [N,1])."""
    try:
        bundled = onnx_path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:                       # exported outside the repository (tests, experiments)
        bundled = None
    return {
        'id': model_id, 'version': version, 'role': 'regressor', 'file': onnx_path.name, 'sha256': sha256,
        **({'bundledPath': bundled} if bundled else {}), 'url': None,
        'input': {'name': 'input', 'layout': 'NCHW', 'shape': [1, 3, 112, 112], 'colorOrder': 'RGB'},
        'outputs': ['score'], 'batch': 'dynamic',
        'normalisation': {'mean': list(mean), 'std': list(std)}, 'licence': licence,
    }
