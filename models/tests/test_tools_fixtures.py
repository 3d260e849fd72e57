import base64
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from tools import diffiqa_ref as ref
from tools.build_embedder import OUT_NAME, main as build_embedder
from tools.build_fixtures import main as build_fixtures
from tools.common import IMAGENET_MEAN, IMAGENET_STD, to_unit_range
from tools.parity import load_case_noise
from tools.tiny_models import TinyDenoiser, make_denoiser, make_regressor


def _session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=['CPUExecutionProvider'])


@pytest.fixture(scope='module')
def built(mirror, tmp_path_factory):
    out = tmp_path_factory.mktemp('fixtures')
    assert build_fixtures(['--mirror', str(mirror), '--out', str(out)]) == 0
    return out


def _noisy_batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, 112, 112, generator=g) * 2 - 1), torch.tensor([4, 3, 0, 1][:n])


def test_tiny_denoiser_onnx_should_equal_pytorch(built):
    model = TinyDenoiser()
    model.load_state_dict(torch.load(built / 'tiny-denoiser.pt', weights_only=True))
    model.eval()
    x, t = _noisy_batch()
    with torch.no_grad():
        expect = model(x, t).numpy()
    got = _session(built / 'tiny-denoiser.onnx').run(['x0'], {'x': x.numpy(), 't': t.numpy()})[0]
    assert np.abs(got - expect).max() < 1e-5


def test_tiny_denoiser_torchscript_should_equal_pytorch():
    model = make_denoiser()
    x, t = _noisy_batch(seed=1)
    traced = torch.jit.trace(model, (x, t))
    with torch.no_grad():
        assert float((traced(x, t) - model(x, t)).abs().max()) < 1e-5


def test_tiny_denoiser_should_be_a_light_time_dependent_restoration():
    model = make_denoiser()
    x, _ = _noisy_batch(2, seed=2)
    with torch.no_grad():
        at4 = model(x, torch.tensor([4, 4]))
        at0 = model(x, torch.tensor([0, 0]))
    assert 0.005 < float((at4 - x).abs().mean()) < 0.1
    assert float((at4 - at0).abs().mean()) > 1e-3


def test_tiny_models_should_be_deterministic():
    a, b = make_denoiser().state_dict(), make_denoiser().state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    ra, rb = make_regressor().state_dict(), make_regressor().state_dict()
    assert all(torch.equal(ra[k], rb[k]) for k in ra)


def _regressor_inputs(expected):
    imgs = [np.frombuffer(base64.b64decode(i['base64']), np.uint8).reshape(112, 112, 3) for i in expected['images']]
    return np.stack([to_unit_range(i) for i in imgs])


def test_tiny_regressor_onnx_should_reproduce_expected_scores_at_any_batch_size(built):
    expected = json.loads((built / 'tiny-regressor.expected.json').read_text())
    x = _regressor_inputs(expected)
    sess = _session(built / 'tiny-regressor.onnx')
    batched = sess.run(['score'], {'input': x})[0]
    single = np.concatenate([sess.run(['score'], {'input': x[i:i + 1]})[0] for i in range(len(x))])
    assert batched.shape == (len(x), 1)
    np.testing.assert_allclose(batched[:, 0], expected['scores'], atol=1e-5)
    np.testing.assert_allclose(single[:, 0], expected['scores'], atol=1e-5)


def test_tiny_regressor_fixture_should_expose_input_mistakes(built):
    expected = json.loads((built / 'tiny-regressor.expected.json').read_text())
    x = _regressor_inputs(expected)
    sess = _session(built / 'tiny-regressor.onnx')
    want = np.asarray(expected['scores'])
    for wrong in (x[:, ::-1], (x + 1) / 2, x.transpose(0, 1, 3, 2)):
        got = sess.run(['score'], {'input': np.ascontiguousarray(wrong)})[0][:, 0]
        assert np.abs(got - want).max() > 1e-2


def _case_input(built, case):
    face = np.fromfile(built / 'diffiqa-parity' / case['face'], np.uint8).reshape(112, 112, 3)
    return torch.from_numpy(to_unit_range(face))


def test_parity_fixture_should_be_reproducible_from_its_files(built, mirror):
    from tools.build_embedder import load_mobilefacenet
    expected = json.loads((built / 'diffiqa-parity' / 'expected.json').read_text())
    assert sorted((c['dir'], c['repeats']) for c in expected['cases']) == [
        ('face0-r10', 10), ('face0-r3', 3), ('face1-r10', 10), ('face1-r3', 3)]
    model = TinyDenoiser()
    model.load_state_dict(torch.load(built / 'tiny-denoiser.pt', weights_only=True))
    embed = ref.imagenet_embedder(load_mobilefacenet(mirror))
    case = expected['cases'][0]
    res = ref.diffiqa(_case_input(built, case), model.eval(), embed, load_case_noise(built / 'diffiqa-parity', case))
    assert res.score == pytest.approx(case['score'], abs=1e-7)
    assert res.std == pytest.approx(case['std'], abs=1e-7)
    np.testing.assert_allclose(case['alphaBar'], ref.alpha_bar()[:10], rtol=0, atol=0)
    for case in expected['cases']:
        assert len(case['perRepeat']) == case['repeats']
        assert case['score'] == pytest.approx(np.mean(case['perRepeat']), abs=1e-12)
        assert 0.5 < case['score'] < 1.0


def test_parity_fixture_should_be_reachable_with_onnx_models_only(built, mirror, tmp_path):
    # What the TypeScript scorer does: ONNX tiny denoiser, ONNX embedder, the stored noise.
    assert build_embedder(['--mirror', str(mirror), '--out', str(tmp_path)]) == 0
    den = _session(built / 'tiny-denoiser.onnx')
    emb = _session(tmp_path / OUT_NAME)
    denoiser = lambda y, t: torch.from_numpy(den.run(['x0'], {'x': y.numpy(), 't': t.numpy()})[0])  # noqa: E731
    onnx_embed = lambda v: torch.from_numpy(emb.run(['output0'], {'input0': v.numpy()})[0])  # noqa: E731
    embed = ref.imagenet_embedder(onnx_embed, IMAGENET_MEAN, IMAGENET_STD)
    expected = json.loads((built / 'diffiqa-parity' / 'expected.json').read_text())
    for case in expected['cases']:
        res = ref.diffiqa(_case_input(built, case), denoiser, embed, load_case_noise(built / 'diffiqa-parity', case))
        assert res.score == pytest.approx(case['score'], abs=1e-5)
        np.testing.assert_allclose(res.per_repeat, case['perRepeat'], atol=1e-5)
        assert res.std == pytest.approx(case['std'], abs=1e-5)


def test_parity_intermediates_should_match_the_documented_forward_step(built):
    expected = json.loads((built / 'diffiqa-parity' / 'expected.json').read_text())
    case = next(c for c in expected['cases'] if c['intermediates'])
    folder = built / 'diffiqa-parity' / case['dir']
    shape = (2 * case['repeats'], 3, 112, 112)
    eps = np.fromfile(folder / 'eps.f32', '<f4').reshape(shape)
    x_t = np.fromfile(folder / 'xt.f32', '<f4').reshape(shape)
    x = _case_input(built, case).numpy()
    ab5 = ref.alpha_bar()[5]
    r = case['repeats']
    np.testing.assert_allclose(x_t[0], np.sqrt(ab5) * x + np.sqrt(1 - ab5) * eps[0], atol=1e-6)
    np.testing.assert_allclose(x_t[r], np.sqrt(ab5) * x[..., ::-1] + np.sqrt(1 - ab5) * eps[r], atol=1e-6)
