"""The project's eDifFIQA-T: the shipped MobileFaceNet (foamliu weights) as backbone, initialised
from `mobilefacenet.pt`, plus eDifFIQA's MLP head (Linear -> GELU -> Linear).

Differences from the official eDifFIQA-T (export/arch/ediffiqa.py), and why:
- The backbone is the project's own FR model (128-d raw embedding, ImageNet normalisation), not
  InsightFace's 512-d MobileFaceNet: it is the only MobileFaceNet whose weights we may use, and the
  recipe asks for the FR model's own backbone.
- The head reads the raw embedding, not a unit vector: the raw norm of this network is itself a
  strong quality cue (the `embedding-norm` baseline), and representation consistency is a cosine,
  so it constrains only the direction.
- `frozen` leading layers (the 56x56 and 28x28 stages) keep their pretrained weights and batch
  statistics: they are most of the compute, and two CPU cores could not train them in useful time.
"""
from __future__ import annotations

import torch
from torch import nn

from export.arch.mobilefacenet import MobileFaceNet

EMBEDDING = 128


class Head(nn.Module):
    def __init__(self, in_dim: int = EMBEDDING, hidden: int = 1024):
        super().__init__()
        self.l1 = nn.Linear(in_dim, hidden)
        self.ac = nn.GELU()
        self.l2 = nn.Linear(hidden, 1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.l2(self.ac(self.l1(f)))


class EDifFIQAOwn(nn.Module):
    """forward(x) -> (feature [N,128], quality [N,1]); x is ImageNet-normalised RGB."""

    def __init__(self, frozen_blocks: int = 5):
        super().__init__()
        self.base_model = MobileFaceNet(EMBEDDING)
        self.mlp = Head()
        self.frozen_blocks = frozen_blocks

    def frozen_modules(self) -> list[nn.Module]:
        b = self.base_model
        return [b.conv1, b.dw_conv, *list(b.features)[:self.frozen_blocks]]

    def freeze(self) -> None:
        for m in self.frozen_modules():
            for p in m.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self.frozen_modules():     # frozen layers keep their pretrained batch statistics
            m.eval()
        return self

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.base_model(x)
        return f, self.mlp(f)


class QualityOnly(nn.Module):
    """What is exported: the quality alone, [N,1]."""

    def __init__(self, model: EDifFIQAOwn):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[1]
