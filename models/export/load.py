"""Strict loading of the official checkpoints.

A checkpoint that does not match the architecture exactly must fail loudly, naming the keys:
a silently half-loaded network would export fine and score faces with random weights.
"""
from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from export.errors import ExportError

# Buffers of the official `GaussianDiffusion` wrapper (diffiqa/diffusion_base/diff_gauss.py),
# saved next to the UNet (`model.*`) in `ckpt['model']`. They hold the noise schedule, which the
# runtime recomputes itself; `alphas_cumprod` is checked against that recomputation (see
# export/schedule.py) and the rest is dropped.
DIFFUSION_BUFFERS = frozenset({
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod",
    "sqrt_one_minus_alphas_cumprod", "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod",
    "sqrt_recipm1_alphas_cumprod", "posterior_variance", "posterior_log_variance_clipped",
    "posterior_mean_coef1", "posterior_mean_coef2", "p2_loss_weight",
})

# BatchNorm's step counter only matters in training; checkpoints from before PyTorch 0.4.1 lack it.
_OPTIONAL_SUFFIXES = (".num_batches_tracked",)
_SHOWN = 10


def read_checkpoint(path: str | Path, *, trust_pickle: bool = False) -> object:
    """torch.load on CPU. Only tensors and plain containers are unpickled unless `trust_pickle`:
    a checkpoint from the internet must not be able to run code on the exporting machine."""
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except FileNotFoundError as err:
        raise ExportError("ASSET_NOT_FOUND", f"checkpoint {path} does not exist") from err
    except pickle.UnpicklingError as err:
        raise ExportError("MODEL_LOAD", f"checkpoint {path} holds more than tensors and plain containers "
                              f"({err}); re-run with --trust-pickle only if you trust its source") from err


def _is_state_dict(obj: object) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def extract_state_dict(obj: object) -> dict[str, torch.Tensor]:
    """The weights inside a raw state dict or a trainer checkpoint (`ckpt['model']`, as the
    official DifFIQA Trainer saves; `ckpt['state_dict']` for other trainers)."""
    if _is_state_dict(obj):
        return dict(obj)
    if isinstance(obj, Mapping):
        for key in ("model", "state_dict"):
            if _is_state_dict(obj.get(key)):
                return dict(obj[key])
        top = ", ".join(sorted(map(str, obj.keys()))[:_SHOWN])
        raise ExportError("MODEL_LOAD", f"no state dict found: top-level keys are [{top}]; expected tensors, "
                              "or a 'model' / 'state_dict' entry holding them")
    raise ExportError("MODEL_LOAD", f"no state dict found: the checkpoint is a {type(obj).__name__}")


def strip_module_prefix(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Removes the `module.` that DataParallel/DistributedDataParallel put in front of every key."""
    if sd and all(k.startswith("module.") for k in sd):
        return strip_module_prefix({k[len("module."):]: v for k, v in sd.items()})
    return sd


def unet_from_diffusion(sd: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Splits a GaussianDiffusion state dict into (UNet weights without `model.`, schedule buffers).
    A bare UNet state dict (no `model.` keys) passes through unchanged. Keys that are neither stay
    in the first dict so strict loading reports them."""
    if not any(k.startswith("model.") for k in sd):
        return sd, {}
    unet, buffers = {}, {}
    for k, v in sd.items():
        if k.startswith("model."):
            inner = k[len("model."):]
            unet[inner[len("module."):] if inner.startswith("module.") else inner] = v
        elif k in DIFFUSION_BUFFERS:
            buffers[k] = v
        else:
            unet[k] = v
    return unet, buffers


def _listing(keys: list[str]) -> str:
    more = f", … ({len(keys) - _SHOWN} more)" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def load_strict(model: nn.Module, sd: dict[str, torch.Tensor], what: str) -> nn.Module:
    """Loads `sd` into `model` or raises ExportError naming missing, unexpected and
    mis-shaped keys (first 10 of each, with counts)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd and not k.endswith(_OPTIONAL_SUFFIXES)]
    unexpected = [k for k in sd if k not in expected]
    mis_shaped = [f"{k} {tuple(sd[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
                  if k in sd and sd[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_listing(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_listing(unexpected)}")
    if mis_shaped:
        problems.append(f"{len(mis_shaped)} key(s) with another shape: {_listing(mis_shaped)}")
    if problems:
        raise ExportError("MODEL_LOAD", f"checkpoint does not match {what}: " + "; ".join(problems),
                              {"missing": missing, "unexpected": unexpected, "misShaped": mis_shaped})
    model.load_state_dict(sd, strict=False)  # strictness checked above, minus num_batches_tracked
    return model.eval()
