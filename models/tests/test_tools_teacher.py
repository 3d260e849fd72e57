import numpy as np
import torch

from tools import teacher
from tools.common import shared_dir


def _faces(count=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 112, 112, 3), dtype=np.uint8)


def test_targets_of_a_mirror_symmetric_face_should_have_equal_norms_and_flip_cosine_one():
    # Needs the shared mirror's MobileFaceNet: fails, not skips, when it is missing.
    t = teacher.Teacher(shared_dir())
    x = torch.rand(2, 3, 112, 112) * 2 - 1
    x = torch.cat([x[:, :, :, :56], x[:, :, :, :56].flip(3)], 3)
    out = t.targets(x)
    assert out.shape == (2, 3)
    assert torch.allclose(out[:, 0], out[:, 1], atol=1e-5) and torch.allclose(out[:, 2], torch.ones(2), atol=1e-5)
    # The log norm of an asymmetric face and of its mirror differ: the two views are two targets.
    y = torch.rand(1, 3, 112, 112) * 2 - 1
    assert abs(float(t.targets(y)[0, 0] - t.targets(y)[0, 1])) > 1e-4


def test_cached_targets_should_compute_only_the_missing_wanted_faces(tmp_path):
    faces = _faces()
    first = teacher.cached_targets(tmp_path, faces, np.array([0, 2]), shared_dir())
    assert np.isfinite(first[[0, 2]]).all() and np.isnan(first[[1, 3, 4, 5]]).all()
    # A cached row is reused as it is (a sentinel survives), the new ones are computed.
    z = np.load(tmp_path / teacher.CACHE_NAME)
    table = z['targets'].copy()
    table[0] = 7.0
    np.savez(tmp_path / teacher.CACHE_NAME, targets=table, teacher=z['teacher'], columns=z['columns'])
    again = teacher.cached_targets(tmp_path, faces, np.array([0, 1, 2]), shared_dir())
    assert (again[0] == 7.0).all() and np.allclose(again[2], first[2]) and np.isfinite(again[1]).all()
    fresh = teacher.Teacher(shared_dir()).targets(torch.from_numpy(faces[[1]]).permute(0, 3, 1, 2).float() / 127.5 - 1)
    assert np.allclose(again[1], fresh.numpy()[0], atol=1e-5)
    # Another teacher's cache is not trusted.
    np.savez(tmp_path / teacher.CACHE_NAME, targets=table, teacher='0' * 64, columns=z['columns'])
    assert not (teacher.cached_targets(tmp_path, faces, np.array([0]), shared_dir())[0] == 7.0).any()


def test_distill_loss_should_use_the_mirror_norm_for_mirrored_crops():
    table = np.array([[1.0, 3.0, 0.9], [2.0, 2.0, 0.8], [3.0, 1.0, 0.7]], np.float32)
    scaled = torch.from_numpy(teacher.scaled_targets(table, teacher.norm_scale(table, np.arange(3))))
    assert torch.allclose(scaled[:, 2], torch.tensor([0.8, 0.6, 0.4]))
    heads = teacher.DistillHeads(4)
    f = torch.zeros(3, 4)
    with torch.no_grad():
        heads.out.weight.zero_()
        heads.out.bias.copy_(torch.tensor([0.0, 0.0]))
    # Zero predictions: the loss is the mean |target|, so the chosen view shows in its value.
    plain = teacher.distill_loss(heads, f, scaled, torch.tensor([False] * 3))
    flipped = teacher.distill_loss(heads, f, scaled, torch.tensor([True, False, False]))
    expect = lambda n: float(n.abs().mean() + scaled[:, 2].abs().mean())
    assert abs(float(plain) - expect(scaled[:, 0])) < 1e-6
    assert abs(float(flipped) - expect(torch.stack([scaled[0, 1], scaled[1, 0], scaled[2, 0]]))) < 1e-6
