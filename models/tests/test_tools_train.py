import csv
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from tools.train_denoiser import main


def _synthetic_dataset(folder, count=8):
    # Smooth colour blobs on gradients: face-sized, not faces; enough to exercise the pipeline.
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:112, 0:112] / 111.0
    faces = []
    for _ in range(count):
        cy, cx = rng.uniform(0.3, 0.7, 2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.05)[..., None] * rng.uniform(0, 1, 3)
        img = 0.3 + 0.3 * np.stack([xx, yy, 1 - xx], -1) + 0.4 * blob
        faces.append(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
    folder.mkdir(parents=True)
    np.stack(faces).tofile(folder / 'faces.u8')
    (folder / 'index.json').write_text(json.dumps({'count': count, 'files': [f'f{i}.jpg' for i in range(count)],
                                                   'identities': [f'id{i % 3}' for i in range(count)]}))
    return folder


def _args(data, out, steps):
    return ['--data', str(data), '--out', str(out), '--steps', str(steps), '--batch', '2', '--dim', '8',
            '--ckpt-every', '1', '--seed', '3']


def test_train_should_checkpoint_resume_and_export(tmp_path, capsys):
    data = _synthetic_dataset(tmp_path / 'data')
    out = tmp_path / 'run'
    assert main(_args(data, out, 2)) == 0
    assert torch.load(out / 'last.pt', weights_only=False)['step'] == 2
    assert main(_args(data, out, 3)) == 0
    assert 'resumed from' in capsys.readouterr().out
    ckpt = torch.load(out / 'last.pt', weights_only=False)
    assert ckpt['step'] == 3
    rows = list(csv.DictReader(open(out / 'loss.csv')))
    assert [int(r['step']) for r in rows] == [1, 2, 3]
    assert all(np.isfinite(float(r['loss'])) and float(r['loss']) > 0 for r in rows)

    # An uninterrupted 3-step run ends with the same weights: resuming loses nothing.
    straight = tmp_path / 'straight'
    assert main(_args(data, straight, 3)) == 0
    other = torch.load(straight / 'last.pt', weights_only=False)
    for k, v in ckpt['ema'].items():
        assert torch.allclose(v, other['ema'][k], atol=1e-6), k

    onnx_path = tmp_path / 'restore.onnx'
    assert main(['--out', str(out), '--export', str(onnx_path)]) == 0
    sess = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    x = np.zeros((3, 3, 112, 112), np.float32)
    y = sess.run(['x0'], {'x': x, 't': np.array([4, 2, 0], np.int64)})[0]
    assert y.shape == (3, 3, 112, 112) and np.isfinite(y).all()


def test_train_should_stop_at_the_time_budget(tmp_path):
    data = _synthetic_dataset(tmp_path / 'data')
    out = tmp_path / 'run'
    assert main(_args(data, out, 1000) + ['--minutes', '0.0001']) == 0
    assert torch.load(out / 'last.pt', weights_only=False)['step'] <= 1


def test_train_should_reject_a_dataset_whose_size_disagrees_with_its_index(tmp_path):
    data = _synthetic_dataset(tmp_path / 'data')
    (data / 'index.json').write_text(json.dumps({'count': 9, 'files': [], 'identities': []}))
    with pytest.raises(ValueError, match='index.json says 9 faces'):
        main(_args(data, tmp_path / 'run', 1))


def test_recognition_degrade_should_draw_low_resolution_blur_or_motion_and_change_the_face():
    from tools.train_denoiser import make_batch
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:112, 0:112]
    faces = (((yy // 4 + xx // 4) % 2) * 200 + 30).astype(np.uint8)[None, ..., None].repeat(3, 3).repeat(4, 0)
    clean, lq = make_batch(faces, 6, rng, 2, recognition=1.0)
    assert clean.shape == lq.shape == (6, 3, 112, 112)
    assert all(float((c - d).abs().mean()) > 0.01 for c, d in zip(clean, lq))


def test_init_onnx_should_continue_an_exported_denoiser_with_its_exact_weights(tmp_path, capsys):
    data = _synthetic_dataset(tmp_path / 'data')
    out = tmp_path / 'run'
    assert main(_args(data, out, 2)) == 0
    onnx_path = tmp_path / 'shipped.onnx'
    assert main(['--out', str(out), '--export', str(onnx_path)]) == 0
    ema = torch.load(out / 'last.pt', weights_only=False)['ema']
    # Read back from the ONNX file, GroupNorm parameters included, the weights are the exported EMA.
    from tools.denoiser_arch import UNet, UNetConfig
    from tools.train_denoiser import weights_from_onnx
    back = weights_from_onnx(onnx_path, UNet(UNetConfig(dim=8)))
    assert set(back) == set(ema)
    for k, v in ema.items():
        assert torch.allclose(back[k], v, atol=1e-7), k
    # A new run starts there, at the given step, and trains on.
    cont = tmp_path / 'cont'
    capsys.readouterr()
    assert main(_args(data, cont, 4) + ['--init-onnx', str(onnx_path), '--init-step', '2']) == 0
    assert 'initialised from' in capsys.readouterr().out
    ck = torch.load(cont / 'last.pt', weights_only=False)
    assert ck['step'] == 4
    assert any(not torch.allclose(ck['model'][k], ema[k]) for k in ema if ema[k].dtype.is_floating_point)
