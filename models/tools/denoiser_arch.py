"""The project's own small restoration UNet: the same family as the official DifFIQA UNet
(lucidrains denoising-diffusion-pytorch: sinusoidal time embedding -> MLP, ResNet blocks of
weight-standardised 3x3 convs + GroupNorm + SiLU with scale/shift from the time embedding, linear
attention per level, full attention in the middle, stride-2 4x4 conv down, nearest-upsample + 3x3
conv up, final ResNet block on [x, init-conv skip], 1x1 conv out), scaled down for CPU inference.

Contract (same as the official model and the tiny test denoiser): x float32 [N,3,112,112] in
[-1,1] (noised image), t int64 [N] (diffusion step), output float32 [N,3,112,112] = predicted x0,
unclamped.

What differs from the official one, to fit a CPU budget (DifFIQA needs 120 passes per image):
`patch` folds 2x2 pixels into channels before the UNet and unfolds after it (space-to-depth), so
the costly full-resolution convolutions run at 56x56; one ResNet block per level by default
instead of two; a 3x3 instead of 7x7 init conv; attention heads of 8 instead of 32 channels.
Defaults (dim 16, mults 1/2/4): about 0.45 M parameters and 0.43 GFLOP (0.21 GMAC) per pass. `python -m tools.denoiser_arch` prints parameters,
FLOPs and CPU time per pass.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    dim: int = 16
    dim_mults: tuple[int, ...] = (1, 2, 4)
    channels: int = 3
    groups: int = 8
    blocks_per_level: int = 1
    attn_heads: int = 4
    attn_dim_head: int = 8
    linear_attn: bool = True
    mid_attn: bool = True
    patch: int = 2
    init_kernel: int = 3

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> 'UNetConfig':
        d = dict(d)
        d['dim_mults'] = tuple(d['dim_mults'])
        return UNetConfig(**d)


class SinusoidalPosEmb(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        half = dim // 2
        freqs = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000) / (half - 1)))
        self.register_buffer('freqs', freqs, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        emb = t.to(torch.float32)[:, None] * self.freqs[None, :]
        return torch.cat((emb.sin(), emb.cos()), dim=-1)


class WeightStandardizedConv2d(nn.Conv2d):
    """Conv whose weights are standardised per output channel at every call (works with GroupNorm)."""

    def forward(self, x):
        w = self.weight
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
        w = (w - mean) * torch.rsqrt(var + 1e-5)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.proj = WeightStandardizedConv2d(cin, cout, 3, padding=1)
        self.norm = nn.GroupNorm(groups, cout)
        self.act = nn.SiLU()

    def forward(self, x, scale_shift=None):
        x = self.norm(self.proj(x))
        if scale_shift is not None:
            scale, shift = scale_shift
            x = x * (scale + 1) + shift
        return self.act(x)


class ResnetBlock(nn.Module):
    def __init__(self, cin: int, cout: int, time_dim: int, groups: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_dim, cout * 2))
        self.block1 = Block(cin, cout, groups)
        self.block2 = Block(cout, cout, groups)
        self.res_conv = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        scale_shift = self.mlp(temb)[:, :, None, None].chunk(2, dim=1)
        h = self.block2(self.block1(x, scale_shift))
        return h + self.res_conv(x)


class ChannelLayerNorm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))

    def forward(self, x):
        var = x.var(dim=1, unbiased=False, keepdim=True)
        mean = x.mean(dim=1, keepdim=True)
        return (x - mean) * torch.rsqrt(var + 1e-5) * self.g


class PreNormResidual(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = ChannelLayerNorm(dim)
        self.fn = fn

    def forward(self, x):
        return self.fn(self.norm(x)) + x


class LinearAttention(nn.Module):
    """Softmax over features for q and over positions for k: cost linear in the pixel count."""

    def __init__(self, dim: int, heads: int, dim_head: int):
        super().__init__()
        self.heads, self.scale = heads, dim_head ** -0.5
        hidden = heads * dim_head
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Sequential(nn.Conv2d(hidden, dim, 1), ChannelLayerNorm(dim))

    def forward(self, x):
        b, _, h, w = x.shape
        q, k, v = (t.reshape(b, self.heads, -1, h * w) for t in self.to_qkv(x).chunk(3, dim=1))
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
        v = v / (h * w)
        context = torch.matmul(k, v.transpose(-1, -2))          # b h d e
        out = torch.matmul(context.transpose(-1, -2), q)         # b h e n
        return self.to_out(out.reshape(b, -1, h, w))


class Attention(nn.Module):
    """Full attention with L2-normalised q, k and a fixed scale of 10, as in the official middle block."""

    def __init__(self, dim: int, heads: int, dim_head: int, scale: float = 10.0):
        super().__init__()
        self.heads, self.scale = heads, scale
        hidden = heads * dim_head
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Conv2d(hidden, dim, 1)

    def forward(self, x):
        b, _, h, w = x.shape
        q, k, v = (t.reshape(b, self.heads, -1, h * w) for t in self.to_qkv(x).chunk(3, dim=1))
        q, k = F.normalize(q, dim=-2), F.normalize(k, dim=-2)
        attn = (torch.matmul(q.transpose(-1, -2), k) * self.scale).softmax(dim=-1)  # b h i j
        out = torch.matmul(v, attn.transpose(-1, -2))                                 # b h d i
        return self.to_out(out.reshape(b, -1, h, w))


def _attn(cfg: UNetConfig, dim: int) -> nn.Module:
    if not cfg.linear_attn:
        return nn.Identity()
    return PreNormResidual(dim, LinearAttention(dim, cfg.attn_heads, cfg.attn_dim_head))


class UNet(nn.Module):
    def __init__(self, cfg: UNetConfig = UNetConfig()):
        super().__init__()
        self.cfg = cfg
        dim, p = cfg.dim, cfg.patch
        in_ch = cfg.channels * p * p
        self.init_conv = nn.Conv2d(in_ch, dim, cfg.init_kernel, padding=cfg.init_kernel // 2)
        dims = [dim, *(dim * m for m in cfg.dim_mults)]
        in_out = list(zip(dims[:-1], dims[1:]))
        time_dim = dim * 4
        self.time_mlp = nn.Sequential(SinusoidalPosEmb(dim), nn.Linear(dim, time_dim), nn.GELU(),
                                      nn.Linear(time_dim, time_dim))
        res = lambda a, b: ResnetBlock(a, b, time_dim, cfg.groups)  # noqa: E731
        n = cfg.blocks_per_level
        self.downs = nn.ModuleList()
        for i, (cin, cout) in enumerate(in_out):
            last = i == len(in_out) - 1
            self.downs.append(nn.ModuleList([
                nn.ModuleList([res(cin, cin) for _ in range(n)]),
                _attn(cfg, cin),
                nn.Conv2d(cin, cout, 3, padding=1) if last else nn.Conv2d(cin, cout, 4, 2, 1),
            ]))
        mid = dims[-1]
        self.mid_block1 = res(mid, mid)
        self.mid_attn = (PreNormResidual(mid, Attention(mid, cfg.attn_heads, cfg.attn_dim_head))
                         if cfg.mid_attn else nn.Identity())
        self.mid_block2 = res(mid, mid)
        self.ups = nn.ModuleList()
        for i, (cin, cout) in enumerate(reversed(in_out)):
            last = i == len(in_out) - 1
            self.ups.append(nn.ModuleList([
                nn.ModuleList([res(cout + cin, cout) for _ in range(n)]),
                _attn(cfg, cout),
                nn.Conv2d(cout, cin, 3, padding=1) if last else
                nn.Sequential(nn.Upsample(scale_factor=2, mode='nearest'), nn.Conv2d(cout, cin, 3, padding=1)),
            ]))
        self.final_res_block = res(dim * 2, dim)
        self.final_conv = nn.Conv2d(dim, in_ch, 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        p = self.cfg.patch
        if p > 1:
            x = F.pixel_unshuffle(x, p)
        x = self.init_conv(x)
        r = x
        temb = self.time_mlp(t)
        skips = []
        for blocks, attn, down in self.downs:
            for i, block in enumerate(blocks):
                x = block(x, temb)
                if i == len(blocks) - 1:
                    x = attn(x)
                skips.append(x)
            x = down(x)
        x = self.mid_block2(self.mid_attn(self.mid_block1(x, temb)), temb)
        for blocks, attn, up in self.ups:
            for block in blocks:
                x = block(torch.cat((x, skips.pop()), dim=1), temb)
            x = up(attn(x))
        x = self.final_conv(self.final_res_block(torch.cat((x, r), dim=1), temb))
        return F.pixel_shuffle(x, p) if p > 1 else x


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, batch: int = 1, size: int = 112) -> int:
    """FLOPs (2 x multiply-accumulates of convs and matmuls) of one forward pass per image."""
    from torch.utils.flop_counter import FlopCounterMode
    x = torch.zeros(batch, 3, size, size)
    t = torch.zeros(batch, dtype=torch.int64)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x, t)
    return counter.get_total_flops() // batch


def time_per_pass(model: nn.Module, batch: int = 20, repeats: int = 3) -> float:
    """Milliseconds per batched forward pass on the CPU (best of `repeats`)."""
    import time
    x = torch.randn(batch, 3, 112, 112)
    t = torch.full((batch,), 4, dtype=torch.int64)
    best = float('inf')
    with torch.no_grad():
        model(x, t)
        for _ in range(repeats):
            start = time.perf_counter()
            model(x, t)
            best = min(best, time.perf_counter() - start)
    return best * 1000


if __name__ == '__main__':
    import argparse
    ap = argparse.ArgumentParser(description='Size and CPU speed of the small restoration UNet')
    ap.add_argument('--dim', type=int, default=UNetConfig.dim)
    ap.add_argument('--patch', type=int, default=UNetConfig.patch)
    ap.add_argument('--blocks', type=int, default=UNetConfig.blocks_per_level)
    ap.add_argument('--batch', type=int, default=20)
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    m = UNet(UNetConfig(dim=a.dim, patch=a.patch, blocks_per_level=a.blocks)).eval()
    print(f'params {count_params(m):,}  ({count_params(m) * 4 / 1e6:.1f} MB float32)')
    print(f'GFLOP per pass (112x112): {count_flops(m) / 1e9:.3f}')
    print(f'CPU ms per batch of {a.batch} ({a.threads} thread(s)): {time_per_pass(m, a.batch):.0f}')
