"""Export an official DifFIQA / eDifFIQA checkpoint to the ONNX file the runtime loads.

    PYTHONPATH=models models/.venv/bin/python -m export.cli --kind unet --checkpoint diff_pretrain.pt --out DIR

Prints the manifest entry (JSON) on stdout and writes it as DIR/<id>.manifest.json ({"models": [entry]}),
which the runtime accepts as an extra manifest. Exit status 2 on a checkpoint or verification error.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from export.errors import ExportError
from export.exporter import export_onnx, manifest_entry, sha256_file, verify
from export.kinds import KINDS, load_official
from export.load import read_checkpoint


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m export.cli", description=__doc__.split("\n\n")[0])
    p.add_argument("--kind", required=True, choices=sorted(KINDS), help="which official model the checkpoint holds")
    p.add_argument("--checkpoint", required=True, type=Path, help="the downloaded .pt/.pth file")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for PyTorch and onnxruntime (0: their default)")
    p.add_argument("--verify-batch", type=int, default=2, help="batch size of the PyTorch/onnxruntime comparison")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow arbitrary pickled objects in the checkpoint (runs code from the file: trusted sources only)")
    return p.parse_args(argv)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict:
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    kind = KINDS[args.kind]
    started = time.monotonic()
    checkpoint_sha = sha256_file(args.checkpoint) if args.checkpoint.exists() else ""
    loaded = load_official(kind, read_checkpoint(args.checkpoint, trust_pickle=args.trust_pickle))
    params = sum(p.numel() for p in loaded.model.parameters())
    _log(f"loaded {kind.describe}: {params:,} parameters from {args.checkpoint}")
    if loaded.schedule_diff is not None:
        _log(f"noise schedule matches the cosine schedule (max |Δ alphas_cumprod| = {loaded.schedule_diff:.2g})")

    onnx_path = export_onnx(kind, loaded.model, args.out / f"{kind.model_id}.onnx", args.opset)
    err = verify(kind, loaded.model, onnx_path, batch=args.verify_batch, threads=args.threads).error
    _log(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.1f} MB); onnxruntime vs PyTorch at batch "
         f"{args.verify_batch}: relative error {err:.2e}; {time.monotonic() - started:.0f} s")

    entry = manifest_entry(kind, onnx_path, checkpoint_sha)
    (args.out / f"{kind.model_id}.manifest.json").write_text(json.dumps({"models": [entry]}, indent=2) + "\n")
    return entry


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        entry = run(args)
    except ExportError as err:
        _log(f"error: {err}")
        return 2
    print(json.dumps(entry, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
