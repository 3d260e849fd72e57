import numpy as np

from tools.degrade import blur, degrade, degrade_round, gaussian_kernel, random_blur_kernel


def _sharp_image(seed=0):
    rng = np.random.default_rng(seed)
    check = (np.add.outer(np.arange(112) // 4, np.arange(112) // 4) % 2).astype(np.float64)
    img = 0.2 + 0.6 * check[..., None] * rng.uniform(0.5, 1, 3)
    return np.round(img * 255).astype(np.uint8)


def _high_freq_energy(img):
    x = img.astype(np.float64).mean(-1)
    lap = 4 * x[1:-1, 1:-1] - x[:-2, 1:-1] - x[2:, 1:-1] - x[1:-1, :-2] - x[1:-1, 2:]
    return float(np.mean(lap ** 2))


def test_gaussian_kernel_should_be_normalised_and_symmetric():
    k = gaussian_kernel(15, np.array([[4.0, 1.5], [1.5, 2.0]]))
    assert abs(k.sum() - 1) < 1e-12
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)
    assert k.argmax() == 7 * 15 + 7


def test_blur_should_keep_a_flat_image_flat_and_soften_edges():
    rng = np.random.default_rng(1)
    flat = np.full((64, 64, 3), 0.4, np.float32)
    np.testing.assert_allclose(blur(flat, random_blur_kernel(rng, 2)), flat, atol=1e-5)
    img = _sharp_image().astype(np.float32) / 255
    out = blur(img, gaussian_kernel(9, np.eye(2) * 4.0))
    assert _high_freq_energy(out) < 0.2 * _high_freq_energy(img)


def test_degrade_round_should_return_a_damaged_face_sized_uint8_image():
    img = _sharp_image()
    out = degrade_round(img, np.random.default_rng(2))
    assert out.shape == (112, 112, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - img).mean() > 2


def test_degrade_should_be_reproducible_from_the_generator():
    img = _sharp_image()
    a = degrade(img, np.random.default_rng(5))
    b = degrade(img, np.random.default_rng(5))
    c = degrade(img, np.random.default_rng(6))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_degrade_should_lose_detail_on_average():
    img = _sharp_image()
    energies = [_high_freq_energy(degrade(img, np.random.default_rng(s))) for s in range(8)]
    assert np.mean(energies) < 0.5 * _high_freq_energy(img)


def test_degrade_should_apply_extra_rounds_by_their_probability():
    img = _sharp_image()
    once = degrade(img, np.random.default_rng(7), probs=(1.0, 0.0, 0.0))
    # probs (1, 0, 0): one draw for the round's coin, then exactly one round.
    rng = np.random.default_rng(7)
    rng.random()
    assert np.array_equal(once, degrade_round(img, rng))
    twice = degrade(img, np.random.default_rng(7), probs=(1.0, 1.0, 0.0))
    assert not np.array_equal(once, twice)
