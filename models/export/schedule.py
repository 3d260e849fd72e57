"""The noise schedule the runtime assumes, to check a diffusion checkpoint against it.

The runtime does not read the schedule from the model file: it recomputes the cosine schedule
(s = 0.008, T = 1000, float64, betas clipped to [0, 0.999], stored float32). A checkpoint trained
with another schedule would still export, and then be run with the wrong noise levels, so the
exporter compares the checkpoint's `alphas_cumprod` buffer with this recomputation.
"""
from __future__ import annotations

import math

import torch

from export.errors import ExportError

TIMESTEPS = 1000
# float32 storage of values in (0, 1]: anything above a few ulps means another schedule.
_TOLERANCE = 1e-6


def cosine_alphas_cumprod(timesteps: int = TIMESTEPS, s: float = 0.008) -> torch.Tensor:
    x = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)
    f = torch.cos(((x / timesteps) + s) / (1 + s) * math.pi * 0.5) ** 2
    f = f / f[0]
    betas = torch.clip(1 - f[1:] / f[:-1], 0, 0.999)
    return torch.cumprod(1.0 - betas, dim=0).to(torch.float32)


def check_schedule(buffers: dict[str, torch.Tensor]) -> float | None:
    """Max |difference| between the checkpoint's alphas_cumprod and the cosine schedule, or None
    when the checkpoint has no schedule buffers (a bare UNet state dict). Raises on a mismatch."""
    found = buffers.get("alphas_cumprod")
    if found is None:
        return None
    expected = cosine_alphas_cumprod()
    if found.shape != expected.shape:
        raise ExportError("MODEL_LOAD", f"checkpoint has {found.numel()} diffusion steps; the runtime assumes "
                              f"{TIMESTEPS} (cosine schedule)")
    diff = (found.to(torch.float64) - expected.to(torch.float64)).abs().max().item()
    if diff > _TOLERANCE:
        raise ExportError("MODEL_LOAD", f"checkpoint's alphas_cumprod differs from the cosine schedule by up to "
                              f"{diff:.3g}; the runtime assumes cosine s=0.008 T={TIMESTEPS}")
    return diff
