import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from tools import make_regset, train_ediffiqa
from tools.ediffiqa_own import EDifFIQAOwn
from tools.splits import heldout
from test_tools_regressor import _fake_labels, _source


def _set(tmp_path, count=24):
    src = _source(tmp_path / 'src', count=40)
    out = tmp_path / 'set'
    assert make_regset.main(['--data', str(src), '--out', str(out), '--count', str(count), '--seed', '1']) == 0
    return out


def _args(data, labels, out, mirror, steps):
    return ['--data', str(data), '--labels', str(labels), '--out', str(out), '--mirror', str(mirror),
            '--steps', str(steps), '--batch', '4', '--threads', '1']


def test_heldout_should_be_a_fixed_fifth_of_identities_by_name():
    names = [f'person_{k}' for k in range(2000)]
    share = sum(map(heldout, names)) / len(names)
    assert 0.17 < share < 0.23
    assert heldout('Donald_Rumsfeld') and not heldout('George_W_Bush')   # fixed by the rule, whatever the seed


def test_identity_centres_should_average_only_the_top_beta_faces_of_each_identity():
    ids = ['a', 'a', 'a', 'b', 'b']
    q = np.array([0.9, 0.1, 0.95, 0.2, 0.3])
    emb = np.zeros((5, 2, 128), np.float32)
    for i, axis in enumerate([0, 1, 2, 3, 4]):
        emb[i, 0, axis] = 2.0
    centres, has = train_ediffiqa.identity_centres(ids, np.arange(5), q, emb, beta=0.4, minimum=1)
    # top 40 % of labels = faces 0 and 2, both of 'a': its centre is their mean direction
    want = np.zeros(128, np.float32)
    want[[0, 2]] = 1 / np.sqrt(2)
    assert np.allclose(centres[1], want) and has[:3].all()
    assert not has[3:].any()                      # 'b' has no good face, so no centre
    _, has2 = train_ediffiqa.identity_centres(ids, np.arange(5), q, emb, beta=0.4, minimum=3)
    assert not has2.any()


def test_target_should_lower_the_label_of_a_face_far_from_its_identity_centre(mirror, tmp_path):
    data = _set(tmp_path)
    labels = _fake_labels(data)
    ds = train_ediffiqa.TrainSet(data, labels, mirror, beta=0.2, centre_min=1)
    model = train_ediffiqa.pretrained(mirror, 5)
    idx = ds.train[:4]
    ds.has_centre[:] = False
    _, plain = train_ediffiqa.step_loss(model, ds, idx, np.random.default_rng(0), eps=0.5, theta=0.0)
    ds.has_centre[idx] = True
    ds.centres[idx] = -ds.emb[idx, 0] / np.linalg.norm(ds.emb[idx, 0], axis=1, keepdims=True)   # opposite direction
    _, far = train_ediffiqa.step_loss(model, ds, idx, np.random.default_rng(0), eps=0.5, theta=0.0)
    assert far['l1'] != pytest.approx(plain['l1'])


def test_train_should_resume_reject_wrong_crop_ids_and_export_a_dynamic_batch_onnx(mirror, tmp_path, capsys):
    data = _set(tmp_path)
    labels = _fake_labels(data)
    out = tmp_path / 'run'
    assert train_ediffiqa.main(_args(data, labels, out, mirror, 2)) == 0
    assert torch.load(out / 'last.pt', weights_only=False)['step'] == 2
    assert train_ediffiqa.main(_args(data, labels, out, mirror, 3)) == 0
    ck = torch.load(out / 'weights.pt', weights_only=False)
    assert ck['step'] == 3 and 'opt' not in ck
    # The teacher's embeddings of the pretrained backbone are the FR model's own.
    emb = np.fromfile(data / 'fr-embeddings.f32', np.float32).reshape(-1, 2, 128)
    fresh = train_ediffiqa.pretrained(mirror, 5).eval()
    faces = np.fromfile(data / 'faces.u8', np.uint8).reshape(-1, 112, 112, 3)
    with torch.no_grad():
        assert np.allclose(fresh(train_ediffiqa.to_imagenet(faces[:2]))[0].numpy(), emb[:2, 0], atol=1e-4)

    items = json.loads((data / 'index.json').read_text())['items']
    wrong = tmp_path / 'wrong.jsonl'
    wrong.write_text(json.dumps({'i': 0, 'id': train_ediffiqa.crop_id(items[1]), 'score': 0.8}) + '\n')
    with pytest.raises(ValueError, match='crop id'):
        train_ediffiqa.main(_args(data, wrong, tmp_path / 'run2', mirror, 1))

    onnx_path = tmp_path / 'm.onnx'
    capsys.readouterr()
    assert train_ediffiqa.main(['--out', str(out), '--export', str(onnx_path)]) == 0
    entry = json.loads(capsys.readouterr().out.split('\n', 1)[1])
    assert entry['id'] == 'ediffiqa-t-own' and entry['normalisation']['mean'] == [0.485, 0.456, 0.406]
    model = EDifFIQAOwn(ck['frozen_blocks'])
    model.load_state_dict(ck['model'])
    model.eval()
    x = train_ediffiqa.to_imagenet(faces[:5])
    with torch.no_grad():
        want = model(x)[1].numpy()
    got = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider']).run(['score'], {'input': x.numpy()})[0]
    assert got.shape == (5, 1) and np.allclose(got, want, atol=1e-4)


def test_label_ids_should_merge_by_index_attach_crop_ids_and_drop_unusable_labels(tmp_path):
    from tools import label_ids
    data = _set(tmp_path)
    items = json.loads((data / 'index.json').read_text())['items']
    a, b = tmp_path / 'a.jsonl', tmp_path / 'b.jsonl'
    a.write_text('{"i": 3, "score": 0.9, "std": 0}\n{"i": 0, "score": null, "std": 0}\n')
    b.write_text('{"i": 1, "score": 0.8, "std": 0}\n{"i": 3, "score": 0.7, "std": 0}\n')
    out = tmp_path / 'labels.jsonl'
    assert label_ids.main(['--data', str(data), '--out', str(out), str(a), str(b)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r['i'], r['score']) for r in rows] == [(1, 0.8), (3, 0.7)]          # later file wins, null dropped
    assert rows[1]['id'] == train_ediffiqa.crop_id(items[3]) and '|' in rows[1]['id']
    assert len({train_ediffiqa.crop_id(it) for it in items}) == len(items)       # ids tell crops apart


def test_cached_frozen_layers_should_give_the_loss_of_the_whole_network(mirror, tmp_path):
    data = _set(tmp_path)
    ds = train_ediffiqa.TrainSet(data, _fake_labels(data), mirror, beta=0.2, centre_min=1)
    model = train_ediffiqa.pretrained(mirror, 12)
    model.freeze()
    prefix = train_ediffiqa.prefix_features(data, ds.faces, ds.train, model)
    assert (data / 'prefix-12.f16').is_file()
    idx = ds.train[:4]
    whole, a = train_ediffiqa.step_loss(model.eval(), ds, idx, np.random.default_rng(1), 0.5, 0.5)
    cached, b = train_ediffiqa.step_loss(model.eval(), ds, idx, np.random.default_rng(1), 0.5, 0.5, prefix)
    assert float(cached) == pytest.approx(float(whole), abs=2e-3)             # float16 cache
    assert [p.requires_grad for p in model.base_model.conv1.parameters()] == [False] * 3
    assert any(p.requires_grad for p in model.base_model.conv2.parameters())


def test_optimised_target_should_lower_a_far_face_clamp_at_zero_and_keep_q_without_a_centre():
    feat = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, 1.0]])
    centre = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    q = torch.tensor([0.8, 0.8, 0.3, 0.8])
    has = torch.tensor([True, True, True, False])
    t = train_ediffiqa.optimised_target(feat, q, centre, has, eps=0.5)
    assert t.tolist() == pytest.approx([0.8, 0.3, 0.0, 0.8])      # cos 1: q; cos 0: q - 0.5; cos -1: clamped; no centre: q


def test_frozen_layers_should_keep_the_pretrained_weights_and_statistics_through_training(mirror, tmp_path):
    data = _set(tmp_path)
    labels = _fake_labels(data)
    out = tmp_path / 'run'
    assert train_ediffiqa.main(_args(data, labels, out, mirror, 2)) == 0
    assert train_ediffiqa.main(_args(data, labels, out, mirror, 3)) == 0          # a resume too
    pristine = train_ediffiqa.pretrained(mirror, 12)
    trained = EDifFIQAOwn(12)
    trained.load_state_dict(torch.load(out / 'weights.pt', weights_only=False)['model'])
    for a, b in zip(pristine.frozen_modules(), trained.frozen_modules()):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.equal(x, y), name
    # The mirror column of the teacher is the embedding of the mirrored face.
    emb = np.fromfile(data / 'fr-embeddings.f32', np.float32).reshape(-1, 2, 128)
    faces = np.fromfile(data / 'faces.u8', np.uint8).reshape(-1, 112, 112, 3)
    with torch.no_grad():
        want = pristine.eval().base_model(train_ediffiqa.to_imagenet(faces[:2, :, ::-1])).numpy()
    assert np.allclose(emb[:2, 1], want, atol=1e-4)


def test_validation_identities_should_stay_out_of_training_and_be_reported_by_eval(mirror, tmp_path):
    data = _set(tmp_path, count=40)
    labels = _fake_labels(data)
    ds = train_ediffiqa.TrainSet(data, labels, mirror, 0.2, 1, 0.5)
    name = lambda i: ds.items[i]['identity']
    assert len(ds.val) and len(ds.train)
    assert not {name(i) for i in ds.val} & {name(i) for i in ds.train}
    # Centres come from training faces only: a validation face never gets one.
    assert not ds.has_centre[ds.val].any()
    out = tmp_path / 'run'
    assert train_ediffiqa.main(_args(data, labels, out, mirror, 1) + ['--val-fraction', '0.5']) == 0
    assert train_ediffiqa.main(['--data', str(data), '--labels', str(labels), '--out', str(out),
                                '--mirror', str(mirror), '--eval']) == 0
    result = json.loads((out / 'eval.json').read_text())
    assert result['trained_on_validation'] is False
    assert result['validation']['count'] == len(ds.val)
    assert set(result['validation']['pauc']) == {'model', 'embedding-norm', 'labels', 'random', 'floor'}
