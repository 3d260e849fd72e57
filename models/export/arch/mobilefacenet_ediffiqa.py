"""The MobileFaceNet backbone of eDifFIQA-T (eDifFIQA's `model/mobilenet.py`).

This is the TreB1eN/InsightFace_Pytorch MobileFaceNet with a 512-d embedding, NOT the
foamliu MobileFaceNet that the project ships as its embedder (`arch/mobilefacenet.py`): the
parameter names differ (conv1.conv / conv_23.conv_dw / conv_6_sep / linear / bn ...), so the
eDifFIQA-T checkpoint only loads into this layout. Like upstream, the embedding is L2-normalised
before it reaches the quality head, which therefore sees unit vectors.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBlock(nn.Module):
    """conv -> BN -> PReLU (upstream `Conv_block`)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, padding: int = 0, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.prelu = nn.PReLU(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prelu(self.bn(self.conv(x)))


class LinearBlock(nn.Module):
    """conv -> BN, no activation (upstream `Linear_block`)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, padding: int = 0, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class DepthWise(nn.Module):
    """Inverted bottleneck: 1x1 expand to `groups` channels, depthwise 3x3, 1x1 project."""

    def __init__(self, c_in: int, c_out: int, groups: int, stride: int = 2, residual: bool = False):
        super().__init__()
        self.conv = ConvBlock(c_in, groups)
        self.conv_dw = ConvBlock(groups, groups, 3, stride, 1, groups=groups)
        self.project = LinearBlock(groups, c_out)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.conv_dw(self.conv(x)))
        return x + out if self.residual else out


class ResidualStack(nn.Module):
    """Upstream `Residual`: its blocks sit in `.model`, hence keys like `conv_3.model.0.conv.conv.weight`."""

    def __init__(self, c: int, num_block: int, groups: int):
        super().__init__()
        self.model = nn.Sequential(*(DepthWise(c, c, groups, stride=1, residual=True) for _ in range(num_block)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MobileFaceNet(nn.Module):
    def __init__(self, embedding_size: int = 512):
        super().__init__()
        self.conv1 = ConvBlock(3, 64, 3, 2, 1)
        self.conv2_dw = ConvBlock(64, 64, 3, 1, 1, groups=64)
        self.conv_23 = DepthWise(64, 64, groups=128)
        self.conv_3 = ResidualStack(64, 4, groups=128)
        self.conv_34 = DepthWise(64, 128, groups=256)
        self.conv_4 = ResidualStack(128, 6, groups=256)
        self.conv_45 = DepthWise(128, 128, groups=512)
        self.conv_5 = ResidualStack(128, 2, groups=256)
        self.conv_6_sep = ConvBlock(128, 512)
        self.conv_6_dw = LinearBlock(512, 512, 7, 1, 0, groups=512)
        self.linear = nn.Linear(512, embedding_size, bias=False)
        self.bn = nn.BatchNorm1d(embedding_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_23(self.conv2_dw(self.conv1(x)))
        x = self.conv_34(self.conv_3(x))
        x = self.conv_45(self.conv_4(x))
        x = self.conv_6_dw(self.conv_6_sep(self.conv_5(x)))
        x = self.bn(self.linear(torch.flatten(x, 1)))
        # Upstream divides by the plain norm (no epsilon); F.normalize's 1e-12 floor only differs
        # for an all-zero embedding, which BN makes practically impossible.
        return F.normalize(x, dim=1)
