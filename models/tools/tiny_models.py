"""Tiny, randomly initialised models used as test fixtures by the TypeScript side. They are not
trained: they only need a fixed, deterministic and non-trivial input -> output function."""
from __future__ import annotations

import torch
from torch import nn

from tools.denoiser_arch import UNet, UNetConfig

REGRESSOR_SEED = 1234
DENOISER_SEED = 4321
# One down/up level, linear attention, 2x2 patching like the product's small UNet; no full
# attention so that 120 passes per image stay cheap in tests.
TINY_DENOISER_CONFIG = UNetConfig(dim=8, dim_mults=(1, 2), groups=4, blocks_per_level=1, attn_heads=2,
                                  attn_dim_head=8, linear_attn=True, mid_attn=False, patch=2, init_kernel=3)
# The UNet's output is added to its input at this scale: the fixture then behaves like a light
# restoration (x0 close to the noisy input) rather than like noise.
RESIDUAL_SCALE = 0.1
REGRESSOR_HEAD_GAIN = 30.0


class TinyRegressor(nn.Module):
    """Aligned face [N,3,112,112] in [-1,1] -> scalar quality [N,1]."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Linear(32, 1)

    def forward(self, x):
        return self.head(self.features(x))


class TinyDenoiser(nn.Module):
    """x [N,3,112,112], t int64 [N] -> predicted x0 [N,3,112,112] (unclamped) = x + small UNet residual."""

    def __init__(self, cfg: UNetConfig = TINY_DENOISER_CONFIG):
        super().__init__()
        self.unet = UNet(cfg)

    def forward(self, x, t):
        return x + self.unet(x, t)


def make_regressor() -> TinyRegressor:
    torch.manual_seed(REGRESSOR_SEED)
    model = TinyRegressor()
    with torch.no_grad():
        # Default init maps all images to nearly the same score; a steeper head makes a wrong
        # layout, channel order or normalisation show up as a clear difference.
        model.head.weight.mul_(REGRESSOR_HEAD_GAIN)
        model.head.bias.fill_(0.5)
    return model.eval()


def make_denoiser() -> TinyDenoiser:
    torch.manual_seed(DENOISER_SEED)
    model = TinyDenoiser()
    with torch.no_grad():
        model.unet.final_conv.weight.mul_(RESIDUAL_SCALE)
        model.unet.final_conv.bias.mul_(RESIDUAL_SCALE)
        # Default init gives the time MLP almost no influence; widen it so that feeding the
        # wrong t changes the output visibly, which the parity tests rely on.
        for p in model.unet.time_mlp.parameters():
            p.mul_(4.0)
    return model.eval()
