"""INT8 quantiser: the result must be a real QDQ graph that ranks faces like the float model, and a
quantisation that ranks them differently must be refused without writing anything."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from torch import nn

from export.exporter import sha256_file
from export.quantize import fidelity, main


class _Small(nn.Module):
    """Conv/BN/PReLU like iResNet, small enough for a test."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.PReLU(8), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU())
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        return self.head(self.body(x).mean(dim=(2, 3)))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("quant")
    torch.manual_seed(0)
    model = _Small().eval()
    onnx_path = root / "small.onnx"
    torch.onnx.export(model, torch.zeros(1, 3, 112, 112), str(onnx_path), input_names=["input"], output_names=["score"],
                      dynamic_axes={"input": {0: "N"}, "score": {0: "N"}}, opset_version=17, dynamo=False)
    entry = {"id": "small", "version": "t", "role": "regressor", "file": "small.onnx", "sha256": sha256_file(onnx_path), "url": None,
             "input": {"name": "input", "layout": "NCHW", "shape": [1, 3, 112, 112], "colorOrder": "RGB"}, "outputs": ["score"],
             "batch": "dynamic", "normalisation": {"mean": [0.5] * 3, "std": [0.5] * 3}, "licence": "test"}
    (root / "small.manifest.json").write_text(json.dumps({"models": [entry]}))
    faces = root / "faces"
    faces.mkdir()
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:112, 0:112] / 112.0
    for i in range(48):
        # Smooth images of different brightness, contrast and colour: scores spread like real faces'.
        base = 0.5 + rng.uniform(-0.4, 0.4) * np.sin(xx * rng.uniform(1, 6) + yy * rng.uniform(1, 6))
        img = np.stack([base * rng.uniform(0.5, 1.0) for _ in range(3)], -1) + rng.normal(0, 0.03, (112, 112, 3))
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(faces / f"{i:03d}.png")
    return root


def test_quantise_writes_an_int8_graph_that_ranks_like_the_float_one(exported, capsys):
    out = exported / "out"
    assert main(["--model", str(exported / "small.onnx"), "--images", str(exported / "faces"), "--out", str(out),
                 "--calibrate", "16", "--check", "32", "--min-spearman", "0.9"]) == 0
    entry = json.loads(capsys.readouterr().out)
    assert entry["id"] == "small-int8" and entry["file"] == "small-int8.onnx"
    assert entry["sha256"] == sha256_file(out / "small-int8.onnx")
    assert json.loads((out / "small-int8.manifest.json").read_text())["models"][0] == entry
    fid = entry["quantisation"]["fidelity"]
    assert fid["images"] == 32 and fid["spearman"] >= 0.9
    graph = onnx.load(str(out / "small-int8.onnx")).graph
    ops = {n.op_type for n in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert any(t.data_type == onnx.TensorProto.INT8 for t in graph.initializer)


def test_quantise_refuses_a_variant_below_the_fidelity_floor(exported, capsys):
    out = exported / "refused"
    code = main(["--model", str(exported / "small.onnx"), "--images", str(exported / "faces"), "--out", str(out),
                 "--calibrate", "16", "--check", "32", "--min-spearman", "1.01"])
    assert code == 2
    assert "MODEL_OUTPUT" in capsys.readouterr().err
    assert not list(out.glob("*.onnx")) and not list(out.glob("*.manifest.json"))


def test_quantise_rejects_faces_that_are_not_aligned_crops(exported, tmp_path, capsys):
    Image.new("RGB", (100, 120)).save(tmp_path / "a.png")
    Image.new("RGB", (112, 112)).save(tmp_path / "b.png")
    code = main(["--model", str(exported / "small.onnx"), "--images", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--calibrate", "1", "--check", "2"])
    assert code == 2
    assert "holds 2 images; 3 are needed" in capsys.readouterr().err
    code = main(["--model", str(exported / "small.onnx"), "--images", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--calibrate", "1", "--check", "1"])
    assert code == 2  # --check below 2 cannot give a correlation
    Image.new("RGB", (112, 112)).save(tmp_path / "c.png")
    code = main(["--model", str(exported / "small.onnx"), "--images", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--calibrate", "1", "--check", "2"])
    assert code == 2
    assert "a.png is 100x120, not an aligned 112x112 face" in capsys.readouterr().err


def test_fidelity_measures_order_and_spread():
    a = np.array([0.1, 0.2, 0.3, 0.4])
    assert fidelity(a, a)["spearman"] == 1.0 and fidelity(a, a)["maxAbsDiff"] == 0
    swapped = fidelity(a, np.array([0.2, 0.1, 0.3, 0.4]))
    assert swapped["spearman"] == 0.8 and swapped["maxAbsDiff"] == pytest.approx(0.1)


def test_fidelity_should_rank_tied_int8_scores_as_ties():
    # Quantised scores are discrete: equal int8 outputs must share a rank, not take an arbitrary order.
    a = np.array([0.1, 0.2, 0.3, 0.4])
    tied = fidelity(a, np.array([0.0, 0.0, 1.0, 1.0]))
    assert tied["spearman"] == pytest.approx(0.8944, abs=1e-4)
