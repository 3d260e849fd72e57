"""Reference implementation of full DifFIQA (shared/DIFFIQA.md, steps 1-5) with injected noise,
so that another implementation (the TypeScript scorer) can be checked number for number.

Schedule (float64 throughout)
    f(u) = cos((u/T + s)/(1 + s) * pi/2)^2, T = 1000, s = 0.008, u = 0..T
    beta_t = clip(1 - f(t+1)/f(t), 0, 0.999), t = 0..T-1
    alphaBar_t = prod_{i<=t} (1 - beta_i)            (so alphaBar_5 = 0.99967947; as float32 0.99967945)
alphaBar is never rounded. Every scalar coefficient below is computed from it in float64 and rounded
to float32 exactly once, where it multiplies a float32 image tensor ("f32(.)" below). Image tensors
are float32 and every tensor operation rounds to float32. The official code computes sqrt(aBar),
sqrt(1-aBar), 1/sqrt(aBar) and sqrt(1/aBar-1) the same way (float64, stored float32); it computes
sigma, c and sqrt(aBar_next) in float32 from float32 aBar: 1 - aBar_t/aBar_n then loses about 4
digits, so sigma and c differ from the float64 values by ~1e-4 relative and reconstructions by up to
~2e-4 per pixel (tests/test_tools_diffiqa_ref.py measures it). Float64 is what another implementation
can reproduce exactly.

One image x (float32 [3,112,112] in [-1,1], x = (pixel/255 - 0.5)/0.5) is scored with R repeats:
  samples      s = f*R + r, f = 0 original, f = 1 horizontally flipped (last axis reversed), r = 0..R-1
  noise        eps [2R,3,112,112] for the forward step, then z_k [2R,3,112,112] for the DDIM steps
               whose t_next >= 0, in order k = 0..4 (pairs (4,3) (3,2) (2,1) (1,0) (0,0)); the pair
               (0,0) has sigma = 0 but still consumes its z. Files: little-endian float32, C order.
  forward      x_t = f32(sqrt(aBar_5)) * x_s + f32(sqrt(1 - aBar_5)) * eps
  per pair (t, t_next) in (4,3) (3,2) (2,1) (1,0) (0,0) (0,-1), y starting at x_t:
               x0   = clamp(D(y, t), -1, 1)                      (D gets t as int64 [2R])
               epsH = (f32(1/sqrt(aBar_t)) * y - x0) / f32(sqrt(1/aBar_t - 1))
               t_next < 0:  xhat = x0
               otherwise:   sigma = eta*sqrt((1 - aBar_t/aBar_n)(1 - aBar_n)/(1 - aBar_t)), eta = 1
                            c = sqrt(1 - aBar_n - sigma^2)
                            y = x0 * f32(sqrt(aBar_n)) + f32(c) * epsH + f32(sigma) * z_k
  final        xhat = clamp(xhat, -1, 1); x_t is not clamped.
Embeddings e(.) come from the FR model; our MobileFaceNet wants ImageNet normalisation, so its input
is built from the [-1,1] tensor as p = (v + 1) * 0.5, then (p - mean_c) / std_c with float32
mean/std (the manifest's normalisation applied to pixel/255 = p). Cosines are computed in float64
from the float32 embeddings. With c_s = cos(e(x), e(x_t,s)), d_s = cos(e(x), e(xhat_s)),
g = cos(e(x), e(x^f)), per repeat
    q_r = (c_r + d_r + c_{R+r} + d_{R+r} + g) / 5,
and the score is q = mean_r q_r (identical to DIFFIQA.md's formula), std = population standard
deviation of q_r (divide by R).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

T_STEPS = 1000
COSINE_S = 0.008
FORWARD_T = 5
ETA = 1.0
# From int(linspace(-1, 4, 7)) reversed, as in the official ddim_sample_at_t with t = 5 - 1, nof_s = 6.
DDIM_PAIRS = ((4, 3), (3, 2), (2, 1), (1, 0), (0, 0), (0, -1))
NOISE_STEPS = sum(1 for _, tn in DDIM_PAIRS if tn >= 0)

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Embedder = Callable[[torch.Tensor], torch.Tensor]


def ddim_pairs(forward_t: int = FORWARD_T) -> list[tuple[int, int]]:
    """The official time pairs: linspace(-1, t-1, t+2) truncated to int, reversed, zipped."""
    times = torch.linspace(-1, forward_t - 1, steps=forward_t + 2).int().tolist()[::-1]
    return list(zip(times[:-1], times[1:]))


def alpha_bar(timesteps: int = T_STEPS, s: float = COSINE_S) -> np.ndarray:
    u = np.arange(timesteps + 1, dtype=np.float64) / timesteps
    f = np.cos((u + s) / (1 + s) * math.pi * 0.5) ** 2
    f = f / f[0]
    betas = np.clip(1 - f[1:] / f[:-1], 0, 0.999)
    return np.cumprod(1 - betas)


def _f32(v: float) -> torch.Tensor:
    return torch.tensor(np.float32(v), dtype=torch.float32)


@dataclass
class Noise:
    eps: torch.Tensor            # [2R,3,H,W]
    z: list[torch.Tensor]        # NOISE_STEPS x [2R,3,H,W]

    @staticmethod
    def sample(repeats: int, generator: torch.Generator, shape=(3, 112, 112)) -> 'Noise':
        draw = lambda: torch.randn((2 * repeats, *shape), generator=generator, dtype=torch.float32)  # noqa: E731
        return Noise(draw(), [draw() for _ in range(NOISE_STEPS)])

    @staticmethod
    def zeros(repeats: int, shape=(3, 112, 112)) -> 'Noise':
        return Noise(torch.zeros(2 * repeats, *shape), [torch.zeros(2 * repeats, *shape) for _ in range(NOISE_STEPS)])


def forward_noise(x: torch.Tensor, eps: torch.Tensor, ab: np.ndarray) -> torch.Tensor:
    a = ab[FORWARD_T]
    return _f32(math.sqrt(a)) * x + _f32(math.sqrt(1 - a)) * eps


def ddim_reconstruct(x_t: torch.Tensor, denoiser: Denoiser, z: list[torch.Tensor], ab: np.ndarray) -> torch.Tensor:
    y, k, xhat = x_t, 0, None
    for t, tn in DDIM_PAIRS:
        at = ab[t]
        x0 = denoiser(y, torch.full((y.shape[0],), t, dtype=torch.int64)).clamp(-1, 1)
        eps_hat = (_f32(1 / math.sqrt(at)) * y - x0) / _f32(math.sqrt(1 / at - 1))
        if tn < 0:
            xhat = x0
            continue
        an = ab[tn]
        sigma = ETA * math.sqrt((1 - at / an) * (1 - an) / (1 - at))
        c = math.sqrt(1 - an - sigma ** 2)
        y = x0 * _f32(math.sqrt(an)) + _f32(c) * eps_hat + _f32(sigma) * z[k]
        k += 1
    return xhat.clamp(-1, 1)


def imagenet_embedder(model: torch.nn.Module, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)) -> Embedder:
    """Wraps an FR model that wants (pixel/255 - mean)/std so that it takes [-1,1] tensors."""
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    def embed(v: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(((v + 1) * 0.5 - m) / s)
    return embed


def _cos(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    a64, b64 = a.double(), b.double()
    return (torch.sum(a64 * b64, dim=1) / (a64.norm(dim=1) * b64.norm(dim=1))).numpy()


@dataclass
class Result:
    score: float
    std: float
    per_repeat: np.ndarray       # [R]
    cos_noisy: np.ndarray        # [2R] cos(e(x), e(x_t,s)), sample order s = f*R + r
    cos_recon: np.ndarray        # [2R] cos(e(x), e(xhat_s))
    cos_flip: float              # cos(e(x), e(x^f))
    x_t: torch.Tensor            # [2R,3,H,W]
    x_hat: torch.Tensor          # [2R,3,H,W]


@torch.no_grad()
def diffiqa(x: torch.Tensor, denoiser: Denoiser, embed: Embedder, noise: Noise, ab: np.ndarray | None = None) -> Result:
    """Full DifFIQA of one image x [3,H,W] in [-1,1] with the given noise (see module docstring)."""
    ab = alpha_bar() if ab is None else ab
    repeats = noise.eps.shape[0] // 2
    x = x.to(torch.float32)
    xf = torch.flip(x, dims=[-1])
    starts = torch.cat([x[None].expand(repeats, -1, -1, -1), xf[None].expand(repeats, -1, -1, -1)])
    x_t = forward_noise(starts, noise.eps, ab)
    x_hat = ddim_reconstruct(x_t, denoiser, noise.z, ab)
    e = embed(torch.cat([x[None], xf[None], x_t, x_hat]))
    e_x, e_xf = e[:1], e[1:2]
    e_t, e_hat = e[2:2 + 2 * repeats], e[2 + 2 * repeats:]
    cos_noisy, cos_recon = _cos(e_x.expand_as(e_t), e_t), _cos(e_x.expand_as(e_hat), e_hat)
    cos_flip = float(_cos(e_x, e_xf)[0])
    r = repeats
    per_repeat = (cos_noisy[:r] + cos_recon[:r] + cos_noisy[r:] + cos_recon[r:] + cos_flip) / 5
    return Result(float(per_repeat.mean()), float(per_repeat.std()), per_repeat, cos_noisy, cos_recon,
                  cos_flip, x_t, x_hat)
