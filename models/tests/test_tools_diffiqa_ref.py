import math

import numpy as np
import pytest
import torch

from tools import diffiqa_ref as ref

R = 3


def _face_like(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(3, 112, 112, generator=g) * 1.6 - 0.8
    return x


def _linear_embedder(seed: int = 1):
    # Linear without bias: e(k*v) = k*e(v), so cosines ignore any positive scaling of the image.
    w = torch.randn(3 * 112 * 112, 16, generator=torch.Generator().manual_seed(seed)) / 100
    return lambda v: v.reshape(v.shape[0], -1) @ w


def _identity(y, t):
    return y.clone()


def test_alpha_bar_should_match_the_cosine_schedule_values():
    ab = ref.alpha_bar()
    f = lambda u: math.cos((u / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    assert ab.shape == (1000,) and ab.dtype == np.float64
    assert abs(ab[5] - f(6) / f(0)) < 1e-14
    assert abs(float(np.float32(ab[5])) - 0.99967945) < 1e-8
    assert np.all(np.diff(ab) < 0)


def test_ddim_pairs_should_follow_the_official_truncated_linspace():
    assert ref.ddim_pairs() == list(ref.DDIM_PAIRS)
    assert ref.NOISE_STEPS == 5


def test_diffiqa_should_give_closed_form_score_with_identity_denoiser_and_zero_noise():
    x = _face_like()
    embed = _linear_embedder()
    res = ref.diffiqa(x, _identity, embed, ref.Noise.zeros(R))
    # Every step maps y to k*y; the product of the k's is computed here independently, in float64.
    ab = ref.alpha_bar()
    scale = math.sqrt(ab[5])
    for t, tn in ref.DDIM_PAIRS:
        if tn < 0:
            continue
        sigma = math.sqrt((1 - ab[t] / ab[tn]) * (1 - ab[tn]) / (1 - ab[t]))
        c = math.sqrt(1 - ab[tn] - sigma ** 2)
        scale *= math.sqrt(ab[tn]) + c * (1 / math.sqrt(ab[t]) - 1) / math.sqrt(1 / ab[t] - 1)
    np.testing.assert_allclose(res.x_hat[0].numpy(), (scale * x.double()).numpy(), atol=2e-6)
    np.testing.assert_allclose(res.x_hat[R].numpy(), (scale * x.flip(-1).double()).numpy(), atol=2e-6)
    # Unflipped terms are 1, the four flipped ones equal cos(e(x), e(x^f)): q = (2 + 3g)/5.
    g = res.cos_flip
    assert g < 0.99
    assert res.score == pytest.approx((2 + 3 * g) / 5, abs=1e-6)
    assert res.std < 1e-7


def test_diffiqa_should_reconstruct_the_clean_image_with_an_oracle_denoiser():
    x = _face_like(3)
    starts = torch.cat([x[None].expand(R, -1, -1, -1), x.flip(-1)[None].expand(R, -1, -1, -1)])
    oracle = lambda y, t: starts.clone()  # noqa: E731
    res = ref.diffiqa(x, oracle, _linear_embedder(), ref.Noise.sample(R, torch.Generator().manual_seed(5)))
    assert torch.equal(res.x_hat, starts.clamp(-1, 1))
    np.testing.assert_allclose(res.cos_recon[:R], 1.0, atol=1e-6)
    np.testing.assert_allclose(res.cos_recon[R:], res.cos_flip, atol=1e-6)


def test_diffiqa_should_use_the_documented_noise_layout_for_the_forward_step():
    x = _face_like(4)
    noise = ref.Noise.sample(R, torch.Generator().manual_seed(6))
    res = ref.diffiqa(x, _identity, _linear_embedder(), noise)
    ab = ref.alpha_bar()
    for s, start in ((1, x), (R + 2, x.flip(-1))):
        expect = math.sqrt(ab[5]) * start.double() + math.sqrt(1 - ab[5]) * noise.eps[s].double()
        np.testing.assert_allclose(res.x_t[s].numpy(), expect.numpy(), atol=1e-6)


def test_diffiqa_should_average_repeats_as_in_the_paper_formula():
    x = _face_like(7)
    res = ref.diffiqa(x, _identity, _linear_embedder(), ref.Noise.sample(4, torch.Generator().manual_seed(8)))
    n, d = res.cos_noisy, res.cos_recon
    paper = (n[:4].mean() + d[:4].mean() + n[4:].mean() + d[4:].mean() + res.cos_flip) / 5
    assert res.score == pytest.approx(paper, abs=1e-12)
    assert res.std == pytest.approx(math.sqrt(np.mean((res.per_repeat - res.score) ** 2)), abs=1e-12)
    assert res.std > 0


def test_diffiqa_should_be_reproducible_with_the_same_noise_only():
    x = _face_like(9)
    embed = _linear_embedder()
    a = ref.diffiqa(x, _identity, embed, ref.Noise.sample(R, torch.Generator().manual_seed(1)))
    b = ref.diffiqa(x, _identity, embed, ref.Noise.sample(R, torch.Generator().manual_seed(1)))
    c = ref.diffiqa(x, _identity, embed, ref.Noise.sample(R, torch.Generator().manual_seed(2)))
    assert a.score == b.score
    assert not np.allclose(a.per_repeat, c.per_repeat)


def _official_style(x, denoiser, noise):
    """The official float32 path (buffers cast from float64, sigma and c in float32), written
    independently from the reference, to bound the effect of the documented precision choice."""
    ab64 = torch.from_numpy(ref.alpha_bar())
    ab = ab64.float()
    sqrt_ab, sqrt_1mab = torch.sqrt(ab64).float(), torch.sqrt(1 - ab64).float()
    recip, recipm1 = torch.sqrt(1 / ab64).float(), torch.sqrt(1 / ab64 - 1).float()
    repeats = noise.eps.shape[0] // 2
    starts = torch.cat([x[None].expand(repeats, -1, -1, -1), x.flip(-1)[None].expand(repeats, -1, -1, -1)])
    img = sqrt_ab[5] * starts + sqrt_1mab[5] * noise.eps
    x_t, k = img, 0
    for t, tn in ref.ddim_pairs():
        x0 = denoiser(img, torch.full((img.shape[0],), t)).clamp(-1, 1)
        pred_noise = (recip[t] * img - x0) / recipm1[t]
        if tn < 0:
            img = x0
            continue
        alpha, alpha_next = ab[t], ab[tn]
        sigma = ((1 - alpha / alpha_next) * (1 - alpha_next) / (1 - alpha)).sqrt()
        c = (1 - alpha_next - sigma ** 2).sqrt()
        img = x0 * alpha_next.sqrt() + c * pred_noise + sigma * noise.z[k]
        k += 1
    return x_t, img


def test_diffiqa_should_agree_with_the_official_float32_path():
    from tools.tiny_models import make_denoiser
    x = _face_like(10)
    den = make_denoiser()
    noise = ref.Noise.sample(R, torch.Generator().manual_seed(11))
    with torch.no_grad():
        res = ref.diffiqa(x, den, _linear_embedder(), noise)
        x_t, x_hat = _official_style(x, den, noise)
    assert torch.equal(res.x_t, x_t)
    diff = (res.x_hat - x_hat).abs()
    assert float(diff.max()) < 5e-4 and float(diff.mean()) < 5e-5
