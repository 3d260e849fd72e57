"""eDifFIQA quality regressors: an FR backbone plus an MLP head (Linear 512->1024, GELU, Linear 1024->1).

Key names follow eDifFIQA's `model/ediffiqa.py` and `model/mlp.py`: the backbone is the attribute
`base_model`, the head `mlp` with `l1`, `ac` (GELU, no parameters) and `l2`; so the checkpoint
keys are `base_model.*`, `mlp.l1.{weight,bias}`, `mlp.l2.{weight,bias}`. Upstream's
`return_feat` flag is fixed to False here: the exported graph returns only the quality.

Variants (eDifFIQA configs): T = MobileFaceNet (512-d, L2-normalised), S/M/L = iResNet-18/50/100.
"""
from __future__ import annotations

import torch
from torch import nn

from export.arch.iresnet import iresnet
from export.arch.mobilefacenet_ediffiqa import MobileFaceNet

VARIANTS = ("t", "s", "m", "l")
_IRESNET_DEPTH = {"s": 18, "m": 50, "l": 100}


class MLP(nn.Module):
    def __init__(self, in_dim: int = 512, hidden_dim: int = 1024, out_dim: int = 1):
        super().__init__()
        self.l1 = nn.Linear(in_dim, hidden_dim)
        self.ac = nn.GELU()
        self.l2 = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l2(self.ac(self.l1(x)))


class EDifFIQA(nn.Module):
    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.base_model = backbone
        self.mlp = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.base_model(x))


def ediffiqa(variant: str) -> EDifFIQA:
    if variant not in VARIANTS:
        raise ValueError(f"eDifFIQA variant must be one of {VARIANTS}, got {variant!r}")
    backbone = MobileFaceNet(512) if variant == "t" else iresnet(_IRESNET_DEPTH[variant])
    return EDifFIQA(backbone, MLP())
