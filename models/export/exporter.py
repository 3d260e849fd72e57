"""ONNX export in the runtime's input/output contract, verification against PyTorch, manifest entry.

Contract (what src/plugin/inference feeds):
  denoiser:  x float32 [N,3,112,112] in [-1,1], t int64 [N]  ->  x0 float32 [N,3,112,112]
             (raw prediction of the clean image; the runtime clamps it to [-1,1] as upstream does)
  regressor: input float32 [N,3,112,112], (pixel/255 - 0.5)/0.5  ->  score float32 [N,1]
N is a dynamic axis in every graph.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from export.arch.unet_official import fold_weight_standardisation
from export.errors import ExportError
from export.kinds import Kind

SIZE = 112
RELATIVE_TOLERANCE = 1e-4


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sample_inputs(kind: Kind, batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs in the contract's ranges. For the denoiser the first timestep is 4, the first
    one DifFIQA denoises at, and the others are spread over the whole schedule."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 3, SIZE, SIZE, generator=gen) * 2 - 1
    if kind.role != "denoiser":
        return (x,)
    t = torch.randint(0, 1000, (batch,), generator=gen, dtype=torch.int64)
    t[0] = 4
    return x, t


def export_onnx(kind: Kind, model: nn.Module, out: str | Path, opset: int = 17) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    graph_model = fold_weight_standardisation(model) if kind.role == "denoiser" else model
    graph_model.eval()
    names = kind.inputs + [kind.output]
    with torch.no_grad():
        torch.onnx.export(
            graph_model, sample_inputs(kind, 1), str(out), input_names=kind.inputs, output_names=[kind.output],
            dynamic_axes={n: {0: "N"} for n in names}, opset_version=opset, do_constant_folding=True, dynamo=False)
    onnx.checker.check_model(str(out))
    return out


def run_onnx(path: str | Path, kind: Kind, inputs: tuple[torch.Tensor, ...], threads: int = 0) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feeds = {name: t.numpy() for name, t in zip(kind.inputs, inputs)}
    return session.run([kind.output], feeds)[0]


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| / max |want|: relative to the output's scale, so elements near zero do not
    inflate it the way an element-wise relative error would."""
    scale = float(np.abs(want).max())
    return float(np.abs(got - want).max()) / max(scale, 1e-12)


class Check(NamedTuple):
    error: float  # relative_error(onnxruntime, PyTorch)
    output: np.ndarray  # what onnxruntime returned


def verify(kind: Kind, model: nn.Module, path: str | Path, batch: int = 2, threads: int = 0, seed: int = 0) -> Check:
    """Runs the ONNX file (at a batch other than the export's 1, which proves the dynamic axis) and
    the unfolded PyTorch model on the same random input; raises when they differ."""
    inputs = sample_inputs(kind, batch, seed)
    with torch.no_grad():
        want = model.eval()(*inputs).numpy()
    got = run_onnx(path, kind, inputs, threads)
    expected_shape = (batch, 3, SIZE, SIZE) if kind.role == "denoiser" else (batch, 1)
    if got.shape != expected_shape or got.dtype != np.float32:
        raise ExportError("MODEL_OUTPUT", f"{path}: output {kind.output} is {got.dtype}{list(got.shape)}, "
                          f"expected float32{list(expected_shape)}")
    err = relative_error(got, want)
    if not err <= RELATIVE_TOLERANCE:
        raise ExportError("MODEL_OUTPUT", f"{path}: onnxruntime differs from PyTorch by {err:.3g} (relative), "
                          f"more than {RELATIVE_TOLERANCE}")
    return Check(err, got)


def manifest_entry(kind: Kind, onnx_path: str | Path, checkpoint_sha256: str) -> dict:
    """An entry for models/manifest.json (see src/plugin/assets/manifest.ts). `version` names the
    checkpoint it was exported from, so two exports of different weights never share a version."""
    onnx_path = Path(onnx_path)
    entry = {
        "id": kind.model_id,
        "version": f"official-{checkpoint_sha256[:12]}",
        "role": kind.role,
        "file": onnx_path.name,
        "sha256": sha256_file(onnx_path),
        "url": None,
        "input": {"name": kind.inputs[0], "layout": "NCHW", "shape": [1, 3, SIZE, SIZE], "colorOrder": "RGB"},
        "outputs": [kind.output],
        "batch": "dynamic",
        "normalisation": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
        "licence": kind.licence,
    }
    if kind.role == "denoiser":
        entry["input"]["timestepName"] = kind.inputs[1]
    return entry
