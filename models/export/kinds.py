"""What each exportable official model is: its architecture, checkpoint layout and runtime contract."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from export.arch.diffiqa_r import diffiqa_r
from export.arch.ediffiqa import ediffiqa
from export.arch.unet_official import official_unet
from export.load import extract_state_dict, load_strict, strip_module_prefix, unet_from_diffusion
from export.schedule import check_schedule


@dataclass(frozen=True)
class Kind:
    name: str
    model_id: str
    role: str  # 'denoiser' | 'regressor', as in the runtime's ModelRole
    describe: str
    licence: str
    build: Callable[[], nn.Module]

    @property
    def inputs(self) -> list[str]:
        return ["x", "t"] if self.role == "denoiser" else ["input"]

    @property
    def output(self) -> str:
        return "x0" if self.role == "denoiser" else "score"


_DIFFIQA_LICENCE = "see upstream DifFIQA licence"
_EDIFFIQA_LICENCE = "see upstream eDifFIQA licence"

KINDS: dict[str, Kind] = {k.name: k for k in [
    Kind("unet", "diffiqa-unet", "denoiser", "the official DifFIQA diffusion UNet (dim 128, mults 1/2/4/8)",
         _DIFFIQA_LICENCE, official_unet),
    Kind("diffiqa-r", "diffiqa-r", "regressor", "DifFIQA(R) (iResNet-100 + Linear 512->1)",
         _DIFFIQA_LICENCE, diffiqa_r),
    *(Kind(f"ediffiqa-{v}", f"ediffiqa-{v}", "regressor", f"eDifFIQA-{v.upper()} ({backbone} + MLP head)",
           _EDIFFIQA_LICENCE, lambda v=v: ediffiqa(v))
      for v, backbone in [("t", "MobileFaceNet"), ("s", "iResNet-18"), ("m", "iResNet-50"), ("l", "iResNet-100")]),
]}


@dataclass
class Loaded:
    model: nn.Module
    # Max |alphas_cumprod - cosine schedule| for a diffusion checkpoint that carries the schedule.
    schedule_diff: float | None = None


def load_official(kind: Kind, checkpoint: object) -> Loaded:
    """Builds `kind`'s network and loads a checkpoint object (as torch.load returned it) strictly."""
    sd = strip_module_prefix(extract_state_dict(checkpoint))
    schedule_diff = None
    if kind.role == "denoiser":
        sd, buffers = unet_from_diffusion(sd)
        schedule_diff = check_schedule(buffers)
    return Loaded(load_strict(kind.build(), sd, kind.describe), schedule_diff)
