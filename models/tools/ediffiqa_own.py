"""The project's eDifFIQA-T: the shipped MobileFaceNet (foamliu weights) as backbone, initialised
from `mobilefacenet.pt`, plus eDifFIQA's MLP head (Linear -> GELU -> Linear).

Differences from the official eDifFIQA-T (export/arch/ediffiqa.py), and why:
- The backbone is the project's own FR model (128-d raw embedding, ImageNet normalisation), not
  InsightFace's 512-d MobileFaceNet: it is the only MobileFaceNet whose weights we may use, and the
  recipe asks for the FR model's own backbone.
- The head reads the raw embedding, not a unit vector: the raw norm of this network is itself a
  strong quality cue (the `embedding-norm` baseline), and representation consistency is a cosine,
  so it constrains only the direction.
- `frozen_blocks` leading layers keep their pretrained weights and batch statistics (by default
  everything before the 7x7 stage): they are nearly all of the compute, and two shared CPU cores
  could not train them in useful time (14 s a batch of 32 with only the 56x56 stage frozen). Their
  output is computed once per face and mirror and cached, so a step costs only the trainable rest.
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

    def __init__(self, frozen_blocks: int = 12):
        super().__init__()
        self.base_model = MobileFaceNet(EMBEDDING)
        self.mlp = Head()
        self.frozen_blocks = frozen_blocks

    def frozen_modules(self) -> list[nn.Module]:
        b = self.base_model
        return [b.conv1, b.dw_conv, *list(b.features)[:self.frozen_blocks]]

    def freeze(self) -> None:
        for m in self.frozen_modules():
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        for m in self.frozen_modules():     # frozen layers keep their pretrained batch statistics
            m.eval()
        return self

    def prefix(self, x: torch.Tensor) -> torch.Tensor:
        """The frozen layers: their output is all training needs of them (tools.train_ediffiqa caches it)."""
        for m in self.frozen_modules():
            x = m(x)
        return x

    def rest(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = self.base_model
        for m in list(b.features)[self.frozen_blocks:]:
            h = m(h)
        f = b.bn(b.conv3(b.gdconv(b.conv2(h)))).flatten(1)
        return f, self.mlp(f)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.rest(self.prefix(x))


class QualityOnly(nn.Module):
    """What is exported: the quality alone, [N,1]."""

    def __init__(self, model: EDifFIQAOwn):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[1]
