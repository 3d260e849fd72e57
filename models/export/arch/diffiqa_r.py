"""DifFIQA(R): the inline quality regressor of the official DifFIQA code.

Upstream builds it as `torch.nn.Sequential(OrderedDict(base=<iResNet-100>, linear=Linear(512, 1)))`
and saves `model.state_dict()`, so the checkpoint keys are `base.*` and `linear.{weight,bias}`.
The output is an unbounded scalar per image (trained on min-max normalised DifFIQA scores).
"""
from __future__ import annotations

from collections import OrderedDict

from torch import nn

from export.arch.iresnet import iresnet


def diffiqa_r() -> nn.Sequential:
    return nn.Sequential(OrderedDict([("base", iresnet(100)), ("linear", nn.Linear(512, 1))]))
