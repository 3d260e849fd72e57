"""A DifFIQA(R)-sized regressor (official architecture: iResNet-100 + Linear 512->1) with RANDOM
weights, exported through the project's own exporter (models/export/cli.py), for timing only.

    PYTHONPATH=models models/.venv/bin/python bench/peer/random_regressor.py --out .cache/bench

Writes OUT/diffiqa-r-random.pt (the state dict; the Python peer loads the same one) and
OUT/diffiqa-r-random/diffiqa-r.onnx + .manifest.json. Skips the work when both exist.
Prints {"checkpoint": ..., "onnx": ..., "manifest": ...} as JSON on stdout.

The official weights cannot be downloaded here; the cost of a forward pass does not depend on the
weight values, provided activations stay in a normal float range. BatchNorm statistics are
therefore calibrated on random images first, so that no layer overflows or sinks into denormals
(either would time something other than the real network).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

import torch
from torch import nn

from export.arch.diffiqa_r import diffiqa_r
from export.cli import main as export_main

SEED = 20231


def calibrated_model(batches: int, batch: int) -> nn.Module:
    torch.manual_seed(SEED)
    model = diffiqa_r()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.rand(batch, 3, 112, 112) * 2 - 1)
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--calibration-batches", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)

    ckpt = args.out / "diffiqa-r-random.pt"
    export_dir = args.out / "diffiqa-r-random"
    onnx_path = export_dir / "diffiqa-r.onnx"
    manifest = export_dir / "diffiqa-r.manifest.json"
    if not (ckpt.is_file() and onnx_path.is_file() and manifest.is_file()):
        args.out.mkdir(parents=True, exist_ok=True)
        model = calibrated_model(args.calibration_batches, 8)
        with torch.no_grad():
            probe = model(torch.rand(4, 3, 112, 112) * 2 - 1)
        if not torch.isfinite(probe).all():
            print(f"error: random regressor gives non-finite output {probe.flatten().tolist()}", file=sys.stderr)
            return 2
        tmp = ckpt.with_suffix(".tmp")
        torch.save(model.state_dict(), tmp)
        tmp.replace(ckpt)
        # The exporter prints the manifest entry on stdout (it also writes it to a file); ours
        # must stay one JSON line.
        with contextlib.redirect_stdout(io.StringIO()):
            code = export_main(["--kind", "diffiqa-r", "--checkpoint", str(ckpt), "--out", str(export_dir),
                                "--threads", str(args.threads)])
        if code != 0:
            return code
    print(json.dumps({"checkpoint": str(ckpt), "onnx": str(onnx_path), "manifest": str(manifest)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
