"""Draws a loss.csv (step,loss,...) as a small SVG line chart with a log-scale y axis, for model cards.

    PYTHONPATH=models python -m tools.loss_svg .cache/train/denoiser/loss.csv models/own/diffiqa-unet-own.loss.svg
"""
from __future__ import annotations

import csv
import math
import sys


def smooth(values: list[float], k: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= k:
            acc -= values[i - k]
        out.append(acc / min(i + 1, k))
    return out


def svg(steps: list[int], losses: list[float], title: str, w: int = 560, h: int = 300) -> str:
    pad = 50
    ys = [math.log10(v) for v in losses]
    lo, hi = math.floor(min(ys)), math.ceil(max(ys))
    hi = hi if hi > lo else lo + 1
    sx = lambda s: pad + (s - steps[0]) / max(1, steps[-1] - steps[0]) * (w - 2 * pad)  # noqa: E731
    sy = lambda y: h - pad - (y - lo) / (hi - lo) * (h - 2 * pad)  # noqa: E731
    pts = ' '.join(f'{sx(s):.1f},{sy(y):.1f}' for s, y in zip(steps, ys))
    ticks = ''.join(f'<text x="{pad - 6}" y="{sy(e) + 4:.1f}" text-anchor="end" font-size="11">1e{e}</text>'
                    f'<line x1="{pad}" x2="{w - pad}" y1="{sy(e):.1f}" y2="{sy(e):.1f}" stroke="#ddd"/>' for e in range(lo, hi + 1))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">'
            f'<rect width="{w}" height="{h}" fill="white"/>{ticks}'
            f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="{pts}"/>'
            f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="13">{title}</text>'
            f'<text x="{w / 2}" y="{h - 12}" text-anchor="middle" font-size="11">step (last {steps[-1]})</text></svg>')


def main(argv: list[str]) -> int:
    src, dst = argv[0], argv[1]
    by_step: dict[int, float] = {}
    with open(src) as f:
        for row in csv.DictReader(f):
            by_step[int(row['step'])] = float(row['loss'])  # a resumed run rewrites steps: keep the last
    steps = sorted(by_step)
    losses = smooth([by_step[s] for s in steps], 25)
    with open(dst, 'w') as f:
        f.write(svg(steps, losses, 'training loss (L2, moving average of 25 steps)'))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
