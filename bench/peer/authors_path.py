"""The DifFIQA(R) authors' inference path, re-created for a like-for-like speed comparison.

    PYTHONPATH=models models/.venv/bin/python bench/peer/authors_path.py --model tiny-regressor \
        --images DIR --threads 2 --batches 1,32 --repeats 3

Upstream (github.com/LSIbabnikz/DifFIQA, diffiqa(r)/inference.py with configs/model_config.yaml
and configs/inference_config.yaml) scores pre-aligned crops with ImageDataset:
Image.open(path).convert("RGB") -> torchvision Resize([112, 112]) -> ToTensor ->
Normalize(mean .5, std .5), a DataLoader with only batch_size set (128; so num_workers=0: images
load in the main process), and the model under @torch.no_grad(). torchvision is not installed
here, so the three transforms are re-implemented below with PIL, numpy and torch, following
torchvision's code (see each function); the DataLoader is a plain loop with torch.stack, which is
what its default collate does for tensors. Threads: torch.set_num_threads(--threads), one
inter-op thread, denormals flushed as the project's onnxruntime sessions do.

Prints one JSON object: per batch size the end-to-end images/s (load + transforms + model), the
model-only ms/image on the same tensors, the preprocessing ms/image, and the scores in file order.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

SIZE = (112, 112)
MEAN = torch.tensor([0.5, 0.5, 0.5])
STD = torch.tensor([0.5, 0.5, 0.5])


def resize(img: Image.Image, size: tuple[int, int] = SIZE) -> Image.Image:
    """transforms.Resize((h, w)) on a PIL image: bilinear (PIL antialiases); torchvision >= 0.15
    returns the image untouched when it already has the requested size."""
    if (img.height, img.width) == size:
        return img
    return img.resize((size[1], size[0]), Image.BILINEAR)


def to_tensor(img: Image.Image) -> torch.Tensor:
    """transforms.ToTensor for an RGB PIL image: HWC uint8 -> CHW float32 in [0, 1]."""
    t = torch.from_numpy(np.array(img, np.uint8, copy=True)).view(img.height, img.width, 3)
    return t.permute((2, 0, 1)).contiguous().to(dtype=torch.float32).div(255)


def normalize(t: torch.Tensor) -> torch.Tensor:
    """transforms.Normalize(mean, std) with inplace=False."""
    return t.clone().sub_(MEAN[:, None, None]).div_(STD[:, None, None])


def load(path: Path) -> torch.Tensor:
    with Image.open(path) as f:
        img = f.convert("RGB")
    return normalize(to_tensor(resize(img)))


def build_model(name: str, checkpoint: Path | None) -> nn.Module:
    if name == "tiny-regressor":
        # The fixture's own generator: seeded, so these are the weights of tiny-regressor.onnx.
        from tools.tiny_models import make_regressor
        return make_regressor().eval()
    if name == "diffiqa-r-random":
        from export.arch.diffiqa_r import diffiqa_r
        if checkpoint is None:
            raise SystemExit("--checkpoint is needed for diffiqa-r-random")
        model = diffiqa_r()
        model.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True), strict=True)
        return model.eval()
    raise SystemExit(f"unknown --model {name}")


def chunks(items: list, n: int):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def end_to_end(model: nn.Module, files: list[Path], batch: int) -> tuple[float, list[float]]:
    scores: list[float] = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for group in chunks(files, batch):
            x = torch.stack([load(f) for f in group])
            scores += model(x).flatten().tolist()
    return time.perf_counter() - t0, scores


def model_only(model: nn.Module, tensors: list[torch.Tensor]) -> float:
    t0 = time.perf_counter()
    with torch.no_grad():
        for x in tensors:
            model(x)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, choices=["tiny-regressor", "diffiqa-r-random"])
    p.add_argument("--checkpoint", type=Path)
    p.add_argument("--images", type=Path, required=True, help="folder of aligned 112x112 images (sorted by name)")
    p.add_argument("--count", type=int, default=0, help="first N images (0: all)")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--batches", default="1,32")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.set_flush_denormal(True)
    files = sorted(f for f in args.images.iterdir() if f.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if args.count:
        files = files[:args.count]
    if not files:
        raise SystemExit(f"no images in {args.images}")
    model = build_model(args.model, args.checkpoint)

    tensors = [load(f) for f in files]  # warm-up: PIL plugins, page cache
    prep = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        tensors = [load(f) for f in files]
        prep.append((time.perf_counter() - t0) * 1000 / len(files))
    prep_ms = statistics.median(prep)

    rows = []
    scores: list[float] = []
    for batch in [int(b) for b in args.batches.split(",")]:
        stacked = [torch.stack(g) for g in chunks(tensors, batch)]
        model_only(model, stacked[:1])  # warm-up: allocator and oneDNN primitive caches
        e2e, mod = [], []
        for _ in range(args.repeats):
            seconds, scores = end_to_end(model, files, batch)
            e2e.append(len(files) / seconds)
            mod.append(model_only(model, stacked) * 1000 / len(files))
        rows.append({"batch": batch, "imagesPerSecond": statistics.median(e2e), "modelMsPerImage": statistics.median(mod),
                     "imagesPerSecondRuns": e2e, "modelMsPerImageRuns": mod})
    json.dump({"model": args.model, "images": len(files), "threads": args.threads, "torch": torch.__version__,
               "preprocessMsPerImage": prep_ms, "rows": rows, "scores": scores}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
