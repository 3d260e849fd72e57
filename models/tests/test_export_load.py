"""Strict checkpoint loading: every way a checkpoint can fail to match must name the keys."""
from __future__ import annotations

import pytest
import torch

from export.arch.ediffiqa import ediffiqa
from export.errors import ExportError
from export.kinds import KINDS, load_official
from export.load import DIFFUSION_BUFFERS, extract_state_dict, load_strict, read_checkpoint, unet_from_diffusion
from export.schedule import check_schedule, cosine_alphas_cumprod


def _random_state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in ediffiqa("t").state_dict().items()}


def test_load_strict_should_name_a_missing_key():
    sd = _random_state()
    del sd["mlp.l1.weight"]
    with pytest.raises(ExportError) as info:
        load_strict(ediffiqa("t"), sd, "eDifFIQA-T")
    assert info.value.code == "MODEL_LOAD"
    assert "1 missing key(s): mlp.l1.weight" in str(info.value)
    assert info.value.details["missing"] == ["mlp.l1.weight"]


def test_load_strict_should_name_an_unexpected_key():
    sd = _random_state()
    sd["mlp.l3.weight"] = torch.zeros(1)
    with pytest.raises(ExportError) as info:
        load_strict(ediffiqa("t"), sd, "eDifFIQA-T")
    assert "1 unexpected key(s): mlp.l3.weight" in str(info.value)
    assert "missing" not in str(info.value)


def test_load_strict_should_list_ten_keys_and_count_the_rest():
    sd = {f"base_model.{k}": v for k, v in _random_state().items() if not k.startswith("base_model.")}
    with pytest.raises(ExportError) as info:
        load_strict(ediffiqa("t"), sd, "eDifFIQA-T")
    missing = info.value.details["missing"]
    assert len(missing) > 10
    message = str(info.value)
    assert f"{len(missing)} missing key(s)" in message
    assert all(k in message for k in missing[:10]) and missing[10] not in message
    assert f"({len(missing) - 10} more)" in message


def test_load_strict_should_name_a_key_with_another_shape():
    sd = _random_state()
    sd["mlp.l2.weight"] = torch.zeros(2, 1024)
    with pytest.raises(ExportError, match=r"mlp\.l2\.weight \(2, 1024\) != \(1, 1024\)"):
        load_strict(ediffiqa("t"), sd, "eDifFIQA-T")


def test_load_strict_should_accept_a_checkpoint_without_batchnorm_step_counters():
    sd = {k: v for k, v in _random_state().items() if not k.endswith("num_batches_tracked")}
    model = load_strict(ediffiqa("t"), sd, "eDifFIQA-T")
    assert torch.equal(model.state_dict()["mlp.l1.weight"], sd["mlp.l1.weight"])


def test_load_official_should_accept_module_prefixes_and_trainer_checkpoints():
    sd = _random_state(1)
    checkpoint = {"step": 7, "model": {f"module.{k}": v for k, v in sd.items()}, "opt": {}}
    model = load_official(KINDS["ediffiqa-t"], checkpoint).model
    assert torch.equal(model.state_dict()["base_model.conv1.conv.weight"], sd["base_model.conv1.conv.weight"])


def test_load_official_should_reject_a_diffiqa_r_checkpoint_given_as_ediffiqa():
    sd = {f"base.{k[len('base_model.'):]}" if k.startswith("base_model.") else k: v
          for k, v in KINDS["ediffiqa-l"].build().state_dict().items()}
    with pytest.raises(ExportError, match=r"missing key\(s\): base_model\.conv1\.weight") as info:
        load_official(KINDS["ediffiqa-l"], sd)
    assert "unexpected key(s): base.conv1.weight" in str(info.value)


def test_extract_state_dict_should_name_the_top_level_keys_when_no_weights_are_found():
    with pytest.raises(ExportError, match=r"top-level keys are \[ema, step\]"):
        extract_state_dict({"step": 1, "ema": {"initted": torch.tensor(True), "step": 3}})


def test_read_checkpoint_should_refuse_pickled_code_unless_trusted(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"model": _random_state(), "config": KINDS["unet"]}, path)  # a dataclass: not weights-only
    with pytest.raises(ExportError, match="--trust-pickle"):
        read_checkpoint(path)
    assert "model" in read_checkpoint(path, trust_pickle=True)


def test_unet_from_diffusion_should_split_unet_weights_from_schedule_buffers():
    sd = {"model.init_conv.weight": torch.zeros(1), "model.module.final_conv.bias": torch.zeros(1),
          **{b: torch.zeros(1) for b in DIFFUSION_BUFFERS}, "ema_leftover": torch.zeros(1)}
    unet, buffers = unet_from_diffusion(sd)
    assert set(unet) == {"init_conv.weight", "final_conv.bias", "ema_leftover"}
    assert set(buffers) == DIFFUSION_BUFFERS


def test_check_schedule_should_accept_the_cosine_schedule_and_reject_another():
    assert check_schedule({"alphas_cumprod": cosine_alphas_cumprod()}) == 0.0
    assert check_schedule({}) is None
    linear = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0).float()
    with pytest.raises(ExportError, match="differs from the cosine schedule"):
        check_schedule({"alphas_cumprod": linear})
    with pytest.raises(ExportError, match="has 500 diffusion steps"):
        check_schedule({"alphas_cumprod": cosine_alphas_cumprod()[:500]})


def test_cosine_alphas_cumprod_should_match_the_documented_values():
    acp = cosine_alphas_cumprod()
    assert acp.dtype == torch.float32 and acp.shape == (1000,)
    assert acp[5].item() == pytest.approx(0.99967945, abs=1e-7)
    assert torch.all(acp[1:] < acp[:-1])
