"""Export with random weights: onnxruntime must reproduce PyTorch within 1e-4 (relative to the output's
scale) at batch 2, although the graph was traced at batch 1, and the manifest entry must describe the file."""
from __future__ import annotations

import json

import onnx
import pytest
import torch
from torch import nn

from export.cli import main
from export.errors import ExportError
from export.exporter import RELATIVE_TOLERANCE, export_onnx, sample_inputs, sha256_file, verify
from export.kinds import KINDS
from export.load import DIFFUSION_BUFFERS
from export.schedule import cosine_alphas_cumprod

THREADS = 2


@pytest.fixture(autouse=True, scope="module")
def _two_threads():
    """The 143 M-parameter UNet passes take minutes on one thread; restore conftest's setting after."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@torch.no_grad()
def _random_regressor(kind_name: str, seed: int = 0) -> nn.Module:
    """Random weights with BatchNorm statistics that fit them: running stats left at (0, 1) let a
    100-layer iResNet overflow float32, which would test nothing."""
    torch.manual_seed(seed)
    model = KINDS[kind_name].build()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
            m.weight.uniform_(0.5, 1.5)
            m.bias.normal_(0, 0.1)
    model.train()(torch.rand(4, 3, 112, 112) * 2 - 1)
    return model.eval()


# M and L differ from S only in how often iResNet repeats its blocks (key names are checked in
# test_export_arch.py); DifFIQA(R) already exports the 100-layer iResNet.
@pytest.mark.parametrize("kind_name", ["diffiqa-r", "ediffiqa-t", "ediffiqa-s"])
def test_export_onnx_should_match_pytorch_for_each_regressor(tmp_path, kind_name):
    kind = KINDS[kind_name]
    model = _random_regressor(kind_name)
    path = export_onnx(kind, model, tmp_path / f"{kind.model_id}.onnx")

    graph = onnx.load(str(path), load_external_data=False).graph
    assert [i.name for i in graph.input] == ["input"] and [o.name for o in graph.output] == ["score"]
    assert graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"

    check = verify(kind, model, path, batch=2, threads=THREADS)
    assert check.error <= RELATIVE_TOLERANCE
    assert check.output.shape == (2, 1) and abs(check.output[0, 0] - check.output[1, 0]) > 1e-6  # not constant


def test_verify_should_fail_when_the_onnx_file_computes_something_else(tmp_path):
    kind = KINDS["ediffiqa-t"]
    exported, other = _random_regressor("ediffiqa-t", seed=0), _random_regressor("ediffiqa-t", seed=1)
    path = export_onnx(kind, exported, tmp_path / "t.onnx")
    with pytest.raises(ExportError, match="onnxruntime differs from PyTorch"):
        verify(kind, other, path, threads=THREADS)


def test_cli_should_export_the_unet_from_a_trainer_checkpoint(tmp_path, capsys):
    """The one UNet export (143 M parameters): a checkpoint shaped like the official Trainer's
    (`model` = GaussianDiffusion state dict with `model.*` and schedule buffers, plus ema/opt)."""
    torch.manual_seed(0)
    unet = KINDS["unet"].build().eval()
    acp = cosine_alphas_cumprod()
    diffusion = {f"model.{k}": v for k, v in unet.state_dict().items()}
    diffusion.update({b: acp if b == "alphas_cumprod" else torch.zeros(1000) for b in DIFFUSION_BUFFERS})
    checkpoint = tmp_path / "diff_pretrain.pt"
    torch.save({"step": 100000, "model": diffusion, "opt": {}, "ema": {"step": torch.tensor(1)}, "scaler": None},
               checkpoint)
    del diffusion, unet  # the CLI builds its own copy

    out = tmp_path / "out"
    assert main(["--kind", "unet", "--checkpoint", str(checkpoint), "--out", str(out), "--threads", str(THREADS)]) == 0

    captured = capsys.readouterr()
    assert "noise schedule matches the cosine schedule" in captured.err
    entry = json.loads(captured.out)
    onnx_path = out / "diffiqa-unet.onnx"
    assert entry["sha256"] == sha256_file(onnx_path)
    assert entry["version"] == f"official-{sha256_file(checkpoint)[:12]}"
    assert entry["input"] == {"name": "x", "layout": "NCHW", "shape": [1, 3, 112, 112], "colorOrder": "RGB",
                              "timestepName": "t"}
    assert (entry["role"], entry["outputs"], entry["batch"], entry["url"]) == ("denoiser", ["x0"], "dynamic", None)
    assert json.loads((out / "diffiqa-unet.manifest.json").read_text()) == {"models": [entry]}

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    t_input = next(i for i in graph.input if i.name == "t")
    assert t_input.type.tensor_type.elem_type == onnx.TensorProto.INT64

    # The CLI's check ran batch 2 with two different timesteps, so a graph that ignored `t` (or
    # baked in the t = 4 it was traced with) would have failed it: the UNet's output depends on each
    # sample's t (test_export_arch.py).
    _, t = sample_inputs(KINDS["unet"], 2)
    assert t[0] == 4 and t[1] != 4


def test_cli_should_exit_2_and_name_the_keys_for_a_mismatched_checkpoint(tmp_path, capsys):
    sd = KINDS["ediffiqa-t"].build().state_dict()
    sd["mlp.extra.weight"] = torch.zeros(1)
    checkpoint = tmp_path / "bad.pth"
    torch.save(sd, checkpoint)
    assert main(["--kind", "ediffiqa-t", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert "MODEL_LOAD" in captured.err and "mlp.extra.weight" in captured.err
    assert captured.out == "" and not (tmp_path / "out").exists()
