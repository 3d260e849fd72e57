"""The project's own quality regressor (a small DifFIQA(R) stand-in): a MobileNetV2-style CNN
trained from scratch on full-DifFIQA scores (tools.train_regressor), no third-party weights.

The official DifFIQA(R) is an iResNet-100 FR backbone + Linear(512 -> 1), ~24 GFLOP per image
(DIFFIQA.md); that is far beyond the CPU budget of an inline gate and its CosFace initialisation is
not available here, so this is a compact network that learns the quality score directly.

Contract (the same as the tiny test regressor and the manifest entry): input float32 [N,3,112,112],
RGB, x = (pixel/255 - 0.5)/0.5; output float32 [N,1], the score in normalised-label units (the
training labels min-max scaled to [0,1] over the training split; values slightly outside occur).

Layout: 3x3 stride-2 stem, inverted-residual blocks (expand 1x1 -> depthwise 3x3 -> project 1x1,
residual when shape allows) down to 7x7, 1x1 conv to `head` channels, global average pooling,
dropout, Linear -> 1. Defaults: 0.32 M parameters, 0.064 GFLOP per image; a training step of 32
images took 0.7 s on one (shared) core here. `python -m tools.regressor_arch` prints parameters,
FLOPs and CPU time.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

# (expansion, output channels, repeats, stride of the first repeat), at width 1.0.
STAGES = ((1, 16, 1, 1), (4, 24, 2, 2), (4, 32, 3, 2), (4, 64, 3, 2), (4, 112, 2, 1))


@dataclass(frozen=True)
class RegressorConfig:
    width: float = 1.0
    stem: int = 16
    head: int = 320
    dropout: float = 0.1
    # Labels are min-max normalised, so starting at the middle of [0,1] skips a slow first phase.
    init_bias: float = 0.5

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> 'RegressorConfig':
        return RegressorConfig(**d)


def _channels(c: int, width: float) -> int:
    return max(8, int(round(c * width / 8)) * 8)


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        layers = [] if expand == 1 else [_conv_bn(cin, mid, 1)]
        layers += [_conv_bn(mid, mid, 3, stride, groups=mid), _conv_bn(mid, cout, 1, act=False)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class QualityRegressor(nn.Module):
    def __init__(self, cfg: RegressorConfig = RegressorConfig()):
        super().__init__()
        self.cfg = cfg
        cin = _channels(cfg.stem, cfg.width)
        layers: list[nn.Module] = [_conv_bn(3, cin, 3, 2)]
        for expand, c, n, s in STAGES:
            cout = _channels(c, cfg.width)
            for r in range(n):
                layers.append(InvertedResidual(cin, cout, s if r == 0 else 1, expand))
                cin = cout
        layers.append(_conv_bn(cin, cfg.head, 1))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(cfg.dropout)
        self.linear = nn.Linear(cfg.head, 1)
        # fan_in keeps activations at scale while BatchNorm is still near identity (evaluation of an
        # early EMA copy); with fan_out the pooled features of a fresh model were ~1e-6, all equal.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_in')
        nn.init.normal_(self.linear.weight, std=0.01)
        nn.init.constant_(self.linear.bias, cfg.init_bias)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled `head` features the score is read from (distillation heads read them too)."""
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(self.pooled(x)))


class FlipAverage(nn.Module):
    """The score averaged over the face and its mirror image, in one batch: full DifFIQA scores a
    face together with its flip too, and the average ranked held-out faces better (+0.02 Spearman
    measured on the first own regressor) for twice a tiny network's cost."""

    def __init__(self, model: QualityRegressor):
        super().__init__()
        self.model = model
        self.cfg = model.cfg

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(torch.cat([x, x.flip(3)]))
        n = x.shape[0]
        return (y[:n] + y[n:]) / 2


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, size: int = 112) -> int:
    """FLOPs (2 x multiply-accumulates of convs and matmuls) of one forward pass of one image."""
    from torch.utils.flop_counter import FlopCounterMode
    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, size, size))
    model.train(was_training)
    return counter.get_total_flops()


def time_per_batch(model: nn.Module, batch: int, train: bool, repeats: int = 3) -> float:
    """Milliseconds per forward (eval) or forward+backward (train) pass of a batch (best of `repeats`)."""
    import time
    x = torch.randn(batch, 3, 112, 112)
    model.train(train)
    best = float('inf')
    for _ in range(repeats + 1):
        start = time.perf_counter()
        if train:
            model(x).sum().backward()
        else:
            with torch.no_grad():
                model(x)
        best = min(best, time.perf_counter() - start)
    return best * 1000


if __name__ == '__main__':
    import argparse
    ap = argparse.ArgumentParser(description='Size and CPU speed of the quality regressor')
    ap.add_argument('--width', type=float, default=RegressorConfig.width)
    ap.add_argument('--head', type=int, default=RegressorConfig.head)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    m = QualityRegressor(RegressorConfig(width=a.width, head=a.head))
    print(f'params {count_params(m):,}  ({count_params(m) * 4 / 1e6:.2f} MB float32)')
    print(f'GFLOP per image (112x112): {count_flops(m) / 1e9:.3f}')
    print(f'CPU ms per batch of {a.batch} ({a.threads} thread(s)): inference {time_per_batch(m, a.batch, False):.0f}, '
          f'training step {time_per_batch(m, a.batch, True):.0f}')
