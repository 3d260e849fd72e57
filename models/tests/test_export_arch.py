"""Architectures: sizes and the checkpoint key names the official code produces.

The expected names and shapes below were read from the upstream sources (DifFIQA
diffusion_base/diff_unet.py, diffiqa(r)/utils.py, eDifFIQA model/*.py), not from our code.
"""
from __future__ import annotations

import pytest
import torch

from export.arch.diffiqa_r import diffiqa_r
from export.arch.ediffiqa import ediffiqa
from export.arch.iresnet import iresnet
from export.arch.unet_official import Unet, WeightStandardizedConv2d, fold_weight_standardisation, official_unet


@pytest.fixture(autouse=True, scope="module")
def _two_threads():
    """The 143 M-parameter UNet passes take minutes on one thread; restore conftest's setting after."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module")
def unet():
    torch.manual_seed(0)
    return official_unet().eval()


@pytest.fixture(scope="module")
def small_unet():
    """The same code at dim 16 with two levels: behaviour checks in milliseconds instead of seconds."""
    torch.manual_seed(0)
    return Unet(dim=16, dim_mults=(1, 2)).eval()


@pytest.fixture(scope="module")
def regressor_r():
    return diffiqa_r()


def test_official_unet_should_have_about_143m_parameters(unet):
    assert abs(_params(unet) - 143e6) / 143e6 < 0.02


def test_diffiqa_r_should_have_about_65m_parameters(regressor_r):
    assert abs(_params(regressor_r) - 65e6) / 65e6 < 0.02


def test_ediffiqa_t_should_have_about_1_7m_parameters():
    assert abs(_params(ediffiqa("t")) - 1.7e6) / 1.7e6 < 0.05


@pytest.mark.parametrize("key, shape", [
    ("init_conv.weight", (128, 3, 7, 7)),
    ("time_mlp.1.weight", (512, 128)),
    ("time_mlp.3.weight", (512, 512)),
    ("downs.0.0.mlp.1.weight", (256, 512)),
    ("downs.0.0.block1.proj.weight", (128, 128, 3, 3)),
    ("downs.0.0.block1.norm.weight", (128,)),
    ("downs.0.2.fn.norm.g", (1, 128, 1, 1)),
    ("downs.0.2.fn.fn.to_qkv.weight", (384, 128, 1, 1)),
    ("downs.0.2.fn.fn.to_out.0.weight", (128, 128, 1, 1)),
    ("downs.0.2.fn.fn.to_out.1.g", (1, 128, 1, 1)),
    ("downs.0.3.weight", (128, 128, 4, 4)),
    ("downs.3.3.weight", (1024, 512, 3, 3)),
    ("mid_attn.fn.fn.to_qkv.weight", (384, 1024, 1, 1)),
    ("mid_attn.fn.fn.to_out.weight", (1024, 128, 1, 1)),
    ("ups.0.0.block1.proj.weight", (1024, 1536, 3, 3)),
    ("ups.0.0.res_conv.weight", (1024, 1536, 1, 1)),
    ("ups.0.3.1.weight", (512, 1024, 3, 3)),
    ("ups.3.3.weight", (128, 128, 3, 3)),
    ("final_res_block.block1.proj.weight", (128, 256, 3, 3)),
    ("final_conv.weight", (3, 128, 1, 1)),
])
def test_official_unet_should_use_the_upstream_key_names(unet, key, shape):
    assert tuple(unet.state_dict()[key].shape) == shape


def test_unet_should_keep_the_resolution_and_depend_on_the_timestep(small_unet):
    x = torch.rand(2, 3, 112, 112) * 2 - 1
    with torch.no_grad():
        at_t4, at_t900 = small_unet(x, torch.tensor([4, 4])), small_unet(x, torch.tensor([900, 900]))
        mixed = small_unet(x, torch.tensor([4, 900]))
    assert at_t4.shape == (2, 3, 112, 112)
    assert (at_t4 - at_t900).abs().max() > 1e-3
    assert torch.allclose(mixed[0], at_t4[0], atol=1e-5) and torch.allclose(mixed[1], at_t900[1], atol=1e-5)


def test_fold_weight_standardisation_should_not_change_the_output(small_unet):
    folded = fold_weight_standardisation(small_unet)
    x, t = torch.rand(2, 3, 112, 112) * 2 - 1, torch.tensor([4, 700])
    with torch.no_grad():
        want, got = small_unet(x, t), folded(x, t)
    assert not any(isinstance(m, WeightStandardizedConv2d) for m in folded.modules())
    assert any(isinstance(m, WeightStandardizedConv2d) for m in small_unet.modules())
    assert torch.allclose(got, want, rtol=0, atol=1e-5 * want.abs().max().item())


@pytest.mark.parametrize("key, shape", [
    ("base.conv1.weight", (64, 3, 3, 3)),
    ("base.prelu.weight", (64,)),
    ("base.layer1.0.downsample.0.weight", (64, 64, 1, 1)),
    ("base.layer3.29.bn3.running_var", (256,)),
    ("base.layer4.2.prelu.weight", (512,)),
    ("base.fc.weight", (512, 25088)),
    ("base.features.running_mean", (512,)),
    ("linear.weight", (1, 512)),
])
def test_diffiqa_r_should_use_the_upstream_key_names(regressor_r, key, shape):
    assert tuple(regressor_r.state_dict()[key].shape) == shape


@pytest.mark.parametrize("variant, key, shape", [
    ("t", "base_model.conv1.conv.weight", (64, 3, 3, 3)),
    ("t", "base_model.conv_23.conv_dw.conv.weight", (128, 1, 3, 3)),
    ("t", "base_model.conv_3.model.3.project.bn.running_mean", (64,)),
    ("t", "base_model.conv_6_dw.conv.weight", (512, 1, 7, 7)),
    ("t", "base_model.linear.weight", (512, 512)),
    ("t", "base_model.bn.weight", (512,)),
    ("s", "base_model.layer4.1.conv2.weight", (512, 512, 3, 3)),
    ("m", "base_model.layer3.13.bn1.weight", (256,)),
    ("l", "base_model.layer2.12.conv1.weight", (128, 128, 3, 3)),
    ("l", "mlp.l1.weight", (1024, 512)),
    ("l", "mlp.l2.bias", (1,)),
])
def test_ediffiqa_should_use_the_upstream_key_names(variant, key, shape):
    assert tuple(ediffiqa(variant).state_dict()[key].shape) == shape


def test_iresnet_should_reject_an_unknown_depth():
    with pytest.raises(ValueError, match="depth must be one of"):
        iresnet(101)
