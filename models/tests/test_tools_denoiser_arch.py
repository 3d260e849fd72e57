import numpy as np
import onnxruntime as ort
import torch

from tools.denoiser_arch import UNet, UNetConfig, count_flops, count_params
from tools.train_denoiser import MAX_ONNX_BYTES, _Exportable


def test_unet_should_map_images_to_images_and_depend_on_time():
    torch.manual_seed(0)
    model = UNet().eval()
    x = torch.randn(2, 3, 112, 112)
    with torch.no_grad():
        a = model(x, torch.tensor([4, 4]))
        b = model(x, torch.tensor([90, 90]))
    assert a.shape == x.shape
    assert float((a - b).abs().max()) > 1e-4


def test_unet_default_should_fit_the_cpu_budget():
    model = UNet()
    # Budget guards (measured: ~0.45 M parameters, ~0.43 GFLOP per 112x112 pass).
    assert count_params(model) < 1_000_000
    assert count_flops(model) < 0.5e9


def test_unet_onnx_export_should_match_pytorch_and_stay_small(tmp_path):
    torch.manual_seed(1)
    model = UNet().eval()
    path = tmp_path / 'unet.onnx'
    x = torch.randn(3, 3, 112, 112)
    t = torch.tensor([0, 4, 99])
    torch.onnx.export(_Exportable(model), (x[:2], t[:2]), str(path), input_names=['x', 't'], output_names=['x0'],
                      dynamic_axes={'x': {0: 'N'}, 't': {0: 'N'}, 'x0': {0: 'N'}}, opset_version=17, dynamo=False)
    assert path.stat().st_size < MAX_ONNX_BYTES
    got = ort.InferenceSession(str(path), providers=['CPUExecutionProvider']).run(
        ['x0'], {'x': x.numpy(), 't': t.numpy()})[0]
    with torch.no_grad():
        want = model(x, t).numpy()
    assert np.abs(got - want).max() < 1e-4


def test_unet_config_should_round_trip_through_a_dict():
    cfg = UNetConfig(dim=24, dim_mults=(1, 2, 4), patch=1)
    assert UNetConfig.from_dict(cfg.to_dict()) == cfg
