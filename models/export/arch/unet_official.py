"""The diffusion UNet of the official DifFIQA code (a lucidrains denoising-diffusion-pytorch `Unet`).

Written from the architecture description so that `ckpt['model']` of `diff_pretrain.pt` loads
strictly: module names, nesting (Residual -> PreNorm -> attention) and the order of modules inside
each ModuleList are part of the checkpoint format and must not change. The official
configuration is dim 128, dim_mults (1, 2, 4, 8), channels 3, no self-conditioning, no learned
variance, plain sinusoidal time embedding, GroupNorm(8): about 143 M parameters.

Differences from upstream that do not change the maths: tensors are reshaped with plain torch
instead of einops, einsum is written as matmul (simpler ONNX graphs), and the integer timestep is
cast to float explicitly (upstream relies on int * float promotion).
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn


class Residual(nn.Module):
    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x) + x


def upsample(dim: int, dim_out: int) -> nn.Sequential:
    # Index 1 of the Sequential holds the conv: the checkpoint key is `ups.i.3.1.weight`.
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(dim, dim_out, 3, padding=1))


def downsample(dim: int, dim_out: int) -> nn.Conv2d:
    return nn.Conv2d(dim, dim_out, 4, 2, 1)


def standardise(weight: torch.Tensor) -> torch.Tensor:
    """Weight standardisation per output channel, eps 1e-5 as upstream uses for float32."""
    mean = weight.mean(dim=(1, 2, 3), keepdim=True)
    var = weight.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
    return (weight - mean) * (var + 1e-5).rsqrt()


class WeightStandardizedConv2d(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, standardise(self.weight), self.bias, self.stride, self.padding, self.dilation, self.groups)


class LayerNorm(nn.Module):
    """Channel LayerNorm with a gain `g` and no bias (that is the checkpoint's layout)."""

    def __init__(self, dim: int):
        super().__init__()
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = torch.var(x, dim=1, unbiased=False, keepdim=True)
        mean = torch.mean(x, dim=1, keepdim=True)
        return (x - mean) * (var + 1e-5).rsqrt() * self.g


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.fn = fn
        self.norm = LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


class SinusoidalPosEmb(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32) * -(math.log(10000) / (half - 1)))
        emb = t.to(torch.float32)[:, None] * freqs[None, :]
        return torch.cat((emb.sin(), emb.cos()), dim=-1)


class Block(nn.Module):
    def __init__(self, dim: int, dim_out: int, groups: int = 8):
        super().__init__()
        self.proj = WeightStandardizedConv2d(dim, dim_out, 3, padding=1)
        self.norm = nn.GroupNorm(groups, dim_out)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor, scale_shift: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        x = self.norm(self.proj(x))
        if scale_shift is not None:
            scale, shift = scale_shift
            x = x * (scale + 1) + shift
        return self.act(x)


class ResnetBlock(nn.Module):
    def __init__(self, dim: int, dim_out: int, *, time_emb_dim: int, groups: int = 8):
        super().__init__()
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(time_emb_dim, dim_out * 2))
        self.block1 = Block(dim, dim_out, groups=groups)
        self.block2 = Block(dim_out, dim_out, groups=groups)
        self.res_conv = nn.Conv2d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

    def forward(self, x: torch.Tensor, time_emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.mlp(time_emb)[:, :, None, None].chunk(2, dim=1)
        h = self.block1(x, scale_shift=(scale, shift))
        h = self.block2(h)
        return h + self.res_conv(x)


def _split_heads(qkv: torch.Tensor, heads: int) -> list[torch.Tensor]:
    b, _, h, w = qkv.shape
    return [t.reshape(b, heads, -1, h * w) for t in qkv.chunk(3, dim=1)]


class LinearAttention(nn.Module):
    def __init__(self, dim: int, heads: int = 4, dim_head: int = 32):
        super().__init__()
        self.scale = dim_head ** -0.5
        self.heads = heads
        hidden = dim_head * heads
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Sequential(nn.Conv2d(hidden, dim, 1), LayerNorm(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = _split_heads(self.to_qkv(x), self.heads)  # each [b, heads, d, n]
        q = q.softmax(dim=-2) * self.scale
        k = k.softmax(dim=-1)
        v = v / (h * w)
        context = torch.matmul(k, v.transpose(-1, -2))  # [b, heads, d, e]
        out = torch.matmul(context.transpose(-1, -2), q)  # [b, heads, e, n]
        return self.to_out(out.reshape(b, -1, h, w))


class Attention(nn.Module):
    """Full attention with L2-normalised queries and keys and a fixed scale of 10."""

    def __init__(self, dim: int, heads: int = 4, dim_head: int = 32, scale: float = 10):
        super().__init__()
        self.scale = scale
        self.heads = heads
        hidden = dim_head * heads
        self.to_qkv = nn.Conv2d(dim, hidden * 3, 1, bias=False)
        self.to_out = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = _split_heads(self.to_qkv(x), self.heads)  # each [b, heads, d, n]
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        sim = torch.matmul(q.transpose(-1, -2), k) * self.scale  # [b, heads, i, j]
        out = torch.matmul(sim.softmax(dim=-1), v.transpose(-1, -2))  # [b, heads, i, d]
        return self.to_out(out.permute(0, 1, 3, 2).reshape(b, -1, h, w))


class Unet(nn.Module):
    def __init__(self, dim: int = 128, dim_mults: tuple[int, ...] = (1, 2, 4, 8), channels: int = 3,
                 resnet_block_groups: int = 8):
        super().__init__()
        self.channels = channels
        init_dim = dim
        self.init_conv = nn.Conv2d(channels, init_dim, 7, padding=3)
        dims = [init_dim, *(dim * m for m in dim_mults)]
        in_out = list(zip(dims[:-1], dims[1:]))
        time_dim = dim * 4

        def block(a: int, b: int) -> ResnetBlock:
            return ResnetBlock(a, b, time_emb_dim=time_dim, groups=resnet_block_groups)

        self.time_mlp = nn.Sequential(SinusoidalPosEmb(dim), nn.Linear(dim, time_dim), nn.GELU(), nn.Linear(time_dim, time_dim))

        # `ups` is registered before the middle blocks, as upstream does, so that state_dict()
        # lists keys in the checkpoint's order (easier to diff; loading does not depend on it).
        self.downs = nn.ModuleList()
        self.ups = nn.ModuleList()
        for i, (d_in, d_out) in enumerate(in_out):
            last = i == len(in_out) - 1
            self.downs.append(nn.ModuleList([
                block(d_in, d_in),
                block(d_in, d_in),
                Residual(PreNorm(d_in, LinearAttention(d_in))),
                nn.Conv2d(d_in, d_out, 3, padding=1) if last else downsample(d_in, d_out),
            ]))

        mid = dims[-1]
        self.mid_block1 = block(mid, mid)
        self.mid_attn = Residual(PreNorm(mid, Attention(mid)))
        self.mid_block2 = block(mid, mid)

        for i, (d_in, d_out) in enumerate(reversed(in_out)):
            last = i == len(in_out) - 1
            self.ups.append(nn.ModuleList([
                block(d_out + d_in, d_out),
                block(d_out + d_in, d_out),
                Residual(PreNorm(d_out, LinearAttention(d_out))),
                nn.Conv2d(d_out, d_in, 3, padding=1) if last else upsample(d_out, d_in),
            ]))

        self.final_res_block = block(init_dim * 2, dim)
        self.final_conv = nn.Conv2d(dim, channels, 1)

    def forward(self, x: torch.Tensor, time: torch.Tensor) -> torch.Tensor:
        x = self.init_conv(x)
        r = x
        t = self.time_mlp(time)
        skips = []
        for block1, block2, attn, down in self.downs:
            x = block1(x, t)
            skips.append(x)
            x = attn(block2(x, t))
            skips.append(x)
            x = down(x)

        x = self.mid_block2(self.mid_attn(self.mid_block1(x, t)), t)

        for block1, block2, attn, up in self.ups:
            x = block1(torch.cat((x, skips.pop()), dim=1), t)
            x = block2(torch.cat((x, skips.pop()), dim=1), t)
            x = up(attn(x))

        x = self.final_res_block(torch.cat((x, r), dim=1), t)
        return self.final_conv(x)


def official_unet() -> Unet:
    """The configuration of `diffiqa/configs/train_config.yaml` (unet_params)."""
    return Unet(dim=128, dim_mults=(1, 2, 4, 8), channels=3)


@torch.no_grad()
def fold_weight_standardisation(model: nn.Module) -> nn.Module:
    """A copy in which every weight-standardised conv is a plain conv holding the standardised
    weights. Same outputs; the ONNX graph then has no per-call weight statistics to compute."""
    folded = copy.deepcopy(model)
    for parent in list(folded.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, WeightStandardizedConv2d):
                plain = nn.Conv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride,
                                  child.padding, child.dilation, child.groups, bias=child.bias is not None)
                plain.weight.copy_(standardise(child.weight))
                if child.bias is not None:
                    plain.bias.copy_(child.bias)
                setattr(parent, name, plain)
    return folded
