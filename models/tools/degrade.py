"""BSRGAN-style random degradations for training the restoration UNet (DIFFIQA.md, "extended
DDPM"): the official training applies `auto_degrade` with probability 1, then 0.2, then 0.01.

One round, on an aligned 112x112 face: upscale by `scale` to a working size, then in random order
two blurs (isotropic or anisotropic Gaussian), a random downscale, a downscale back to 112
(always after the random one), Gaussian noise (colour, grey or channel-correlated) and JPEG with
probability 0.9; a final JPEG always. The official round works at 512 px with scale 4 and ends at
128 px; the default scale 2 here keeps the same kinds of damage at a quarter of the CPU cost.
Written with numpy, torch and PIL only (no OpenCV/SciPy).
"""
from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

SIZE = 112
ROUND_PROBS = (1.0, 0.2, 0.01)
RESIZE_MODES = ('bilinear', 'bicubic', 'area')


def _to_chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


def _to_hwc(x: torch.Tensor) -> np.ndarray:
    return x[0].numpy().transpose(1, 2, 0)


def resize(img: np.ndarray, h: int, w: int, mode: str) -> np.ndarray:
    x = _to_chw(img)
    if mode == 'area':
        y = F.interpolate(x, size=(h, w), mode='area') if h <= img.shape[0] else \
            F.interpolate(x, size=(h, w), mode='nearest')
    else:
        y = F.interpolate(x, size=(h, w), mode=mode, align_corners=False, antialias=h < img.shape[0])
    return np.clip(_to_hwc(y), 0.0, 1.0)


def gaussian_kernel(size: int, cov: np.ndarray) -> np.ndarray:
    """Normalised 2-D Gaussian on a size x size grid centred on the middle pixel."""
    r = np.arange(size) - (size - 1) / 2
    xx, yy = np.meshgrid(r, r)
    pts = np.stack([xx, yy], axis=-1)
    inv = np.linalg.inv(cov)
    k = np.exp(-0.5 * np.einsum('...i,ij,...j->...', pts, inv, pts))
    return k / k.sum()


def random_blur_kernel(rng: np.random.Generator, scale: int) -> np.ndarray:
    size = 2 * int(rng.integers(2, 12)) + 3
    if rng.random() < 0.5:   # anisotropic: random eigenvalues (variances) and angle
        lim = 4.0 + scale
        l1, l2 = max(lim * rng.random(), 0.05), max(lim * rng.random(), 0.05)
        theta = rng.random() * math.pi
        rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
        cov = rot @ np.diag([l1, l2]) @ rot.T
    else:                    # isotropic
        sigma = max((2.0 + 0.2 * scale) * rng.random(), 0.1)
        cov = np.eye(2) * sigma ** 2
    return gaussian_kernel(size, cov)


def blur(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolution with reflect padding, done with FFTs: a 25x25 kernel as a direct depthwise
    conv costs ~20x more on the CPU."""
    p = kernel.shape[0] // 2
    h, w = img.shape[:2]
    if p >= min(h, w):      # reflect padding needs a larger image than the kernel
        return img
    x = F.pad(_to_chw(img), (p, p, p, p), mode='reflect')[0]
    size = (h + 2 * p, w + 2 * p)
    k = torch.from_numpy(kernel.astype(np.float32))
    y = torch.fft.irfft2(torch.fft.rfft2(x, s=size) * torch.fft.rfft2(k, s=size), s=size)
    # Full linear convolution via circular wrap: valid outputs start at 2p (kernel centre offset p).
    y = y[:, 2 * p:2 * p + h, 2 * p:2 * p + w]
    return np.clip(y.numpy().transpose(1, 2, 0), 0.0, 1.0)


def add_noise(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    level = int(rng.integers(2, 26)) / 255.0
    u = rng.random()
    h, w = img.shape[:2]
    if u > 0.6:       # colour noise
        n = rng.normal(0, level, (h, w, 3))
    elif u < 0.4:     # grey noise
        n = rng.normal(0, level, (h, w, 1))
    else:             # channel-correlated noise with a random covariance
        q, _ = np.linalg.qr(rng.random((3, 3)))
        cov = np.abs((25 / 255.0) ** 2 * q.T @ np.diag(rng.random(3)) @ q)
        n = rng.multivariate_normal(np.zeros(3), cov, (h, w))
    return np.clip(img + n.astype(np.float32), 0.0, 1.0)


def jpeg(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    quality = int(rng.integers(30, 96))
    buf = io.BytesIO()
    Image.fromarray(np.round(img * 255).astype(np.uint8)).save(buf, format='JPEG', quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert('RGB'), dtype=np.float32) / 255.0


def degrade_round(img_u8: np.ndarray, rng: np.random.Generator, scale: int = 2) -> np.ndarray:
    """One BSRGAN-style round: uint8 HWC 112x112 RGB -> uint8 HWC 112x112 RGB."""
    work = SIZE * scale
    img = resize(img_u8.astype(np.float32) / 255.0, work, work, 'bicubic')
    sf = scale
    if scale == 4 and rng.random() < 0.25:       # early halving, as BSRGAN does at scale 4
        img = resize(img, work // 2, work // 2, RESIZE_MODES[int(rng.integers(3))])
        sf = 2
    order = list(rng.permutation(6))
    i2, i3 = order.index(2), order.index(3)
    if i2 > i3:                                   # the final downscale stays after the random one
        order[i2], order[i3] = order[i3], order[i2]
    for op in order:
        if op in (0, 1):
            img = blur(img, random_blur_kernel(rng, sf))
        elif op == 2:
            if rng.random() < 0.75:
                f = rng.uniform(1, 2 * sf)
                h = max(int(img.shape[0] / f), 8)
                img = resize(img, h, h, RESIZE_MODES[int(rng.integers(3))])
            else:                                 # Gaussian blur, then nearest subsampling
                sigma = rng.uniform(0.1, 0.6 * sf)
                img = blur(img, gaussian_kernel(25, np.eye(2) * sigma ** 2))[::sf, ::sf]
        elif op == 3:
            img = resize(img, SIZE, SIZE, RESIZE_MODES[int(rng.integers(3))])
        elif op == 4:
            img = add_noise(img, rng)
        elif op == 5 and rng.random() < 0.9:
            img = jpeg(img, rng)
    img = jpeg(img, rng)
    if img.shape[:2] != (SIZE, SIZE):
        img = resize(img, SIZE, SIZE, 'bicubic')
    return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)


def degrade(img_u8: np.ndarray, rng: np.random.Generator, scale: int = 2, probs=ROUND_PROBS) -> np.ndarray:
    """The official chain: each round applied with its probability (1, 0.2, 0.01)."""
    out = img_u8
    for p in probs:
        if rng.random() < p:
            out = degrade_round(out, rng, scale)
    return out
