import csv
import json
import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from tools import make_regset, train_regressor
from tools.regressor_arch import QualityRegressor, count_flops, count_params
from tools.common import shared_dir
from tools.stats import average_ranks, pearson, spearman


def _source(folder, count=40, identities=10):
    # Colour blobs on gradients with pixel texture (so every degradation changes the image):
    # face-sized, not faces; identities of uneven sizes.
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:112, 0:112] / 111.0
    faces = []
    for _ in range(count):
        cy, cx = rng.uniform(0.3, 0.7, 2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.05)[..., None] * rng.uniform(0, 1, 3)
        img = 0.3 + 0.3 * np.stack([xx, yy, 1 - xx], -1) + 0.4 * blob + rng.normal(0, 0.04, (112, 112, 3))
        faces.append(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
    folder.mkdir(parents=True)
    np.stack(faces).tofile(folder / 'faces.u8')
    ids = [f'id{min(i % 13, identities - 1)}' for i in range(count)]
    (folder / 'index.json').write_text(json.dumps({
        'count': count, 'files': [f'{ids[i]}/{i}.jpg' for i in range(count)], 'identities': ids,
        'eyeDistance': [40.0 + i for i in range(count)]}))
    return folder


def _regset(tmp_path, count=24, seed=0, name='regset'):
    src = tmp_path / 'src'
    if not src.exists():
        _source(src)
    out = tmp_path / name
    assert make_regset.main(['--data', str(src), '--out', str(out), '--count', str(count), '--seed', str(seed)]) == 0
    return out


def _fake_labels(regset):
    # Labels that depend on the image (mean brightness + sharpness), so there is something to fit.
    faces = np.fromfile(regset / 'faces.u8', np.uint8).reshape(-1, 112, 112, 3).astype(np.float64)
    path = regset / 'labels.jsonl'
    with open(path, 'w') as f:
        for i, img in enumerate(faces):
            sharp = np.abs(np.diff(img, axis=1)).mean()
            f.write(json.dumps({'i': i, 'score': 0.6 + img.mean() / 1000 + sharp / 100, 'std': 0.01}) + '\n')
    return path


def test_make_regset_should_be_deterministic_for_a_seed(tmp_path):
    a = _regset(tmp_path, seed=3, name='a')
    b = _regset(tmp_path, seed=3, name='b')
    c = _regset(tmp_path, seed=4, name='c')
    assert (a / 'faces.u8').read_bytes() == (b / 'faces.u8').read_bytes()
    assert json.loads((a / 'index.json').read_text())['items'] == json.loads((b / 'index.json').read_text())['items']
    assert (a / 'faces.u8').read_bytes() != (c / 'faces.u8').read_bytes()


def test_make_regset_should_split_by_identity_and_record_each_face(tmp_path):
    out = _regset(tmp_path, count=36)
    index = json.loads((out / 'index.json').read_text())
    src = json.loads((tmp_path / 'src' / 'index.json').read_text())
    items = index['items']
    assert index['count'] == len(items) == 36 and len(index['files']) == 36
    assert (out / 'faces.u8').stat().st_size == 36 * 112 * 112 * 3
    train_ids = {it['identity'] for it in items if it['split'] == 'train'}
    held_ids = {it['identity'] for it in items if it['split'] == 'heldout'}
    assert train_ids and held_ids and not train_ids & held_ids
    assert sum(it['split'] == 'heldout' for it in items) <= round(0.15 * 36)
    assert len({it['source'] for it in items}) == 36                  # picked without replacement
    faces = np.fromfile(out / 'faces.u8', np.uint8).reshape(-1, 112, 112, 3)
    source = np.fromfile(tmp_path / 'src' / 'faces.u8', np.uint8).reshape(-1, 112, 112, 3)
    for k, it in enumerate(items):
        assert it['identity'] == src['identities'][it['source']] == index['identities'][k]
        assert index['eyeDistance'][k] == src['eyeDistance'][it['source']]
        assert 0 <= it['strength'] <= 1
        same = np.array_equal(faces[k], source[it['source']])
        assert same == (it['kind'] == 'clean'), it                  # clean copies exact, degraded ones differ


def test_make_regset_extend_should_append_unused_sources_and_keep_existing_faces_and_splits(tmp_path):
    out = _regset(tmp_path, count=20)
    before = json.loads((out / 'index.json').read_text())
    head = (out / 'faces.u8').read_bytes()
    assert make_regset.main(['--data', str(tmp_path / 'src'), '--out', str(out), '--extend', '12']) == 0
    index = json.loads((out / 'index.json').read_text())
    items = index['items']
    assert index['count'] == len(items) == len(index['files']) == len(index['eyeDistance']) == 32
    assert items[:20] == before['items']                              # labels by index stay valid
    assert (out / 'faces.u8').read_bytes()[:len(head)] == head
    assert (out / 'faces.u8').stat().st_size == 32 * 112 * 112 * 3
    assert len({it['source'] for it in items}) == 32                  # no source face twice
    split = {it['identity']: it['split'] for it in before['items']}
    for it in items[20:]:
        assert split.get(it['identity'], 'train') == it['split'] == 'train'   # held-out stays as it was
    held = {it['identity'] for it in before['items'] if it['split'] == 'heldout'}
    used = {it['source'] for it in items}
    ids = json.loads((tmp_path / 'src' / 'index.json').read_text())['identities']
    free = sum(1 for k, i in enumerate(ids) if i not in held and k not in used)
    with pytest.raises(ValueError, match='unused source faces'):
        make_regset.main(['--data', str(tmp_path / 'src'), '--out', str(out), '--extend', str(free + 1)])


def test_apply_op_should_degrade_more_at_higher_strength():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:112, 0:112]
    img = (((yy // 4 + xx // 4) % 2) * 200 + 30).astype(np.uint8)[..., None].repeat(3, 2)   # checkerboard
    for kind in make_regset.SIMPLE:
        errs = [np.abs(make_regset.apply_op(img, kind, make_regset._param(kind, u), rng)[0].astype(float) - img).mean()
                for u in (0.0, 1.0)]
        assert errs[1] > errs[0] > 0, kind


def test_average_ranks_should_share_tied_ranks():
    assert average_ranks([10, 20, 20, 20, 5]).tolist() == [2, 4, 4, 4, 1]
    assert average_ranks([3, 1, 2]).tolist() == [3, 1, 2]


def test_spearman_should_match_a_hand_computed_value_with_ties():
    # ranks x = [1, 2.5, 2.5, 4], y = [1, 3, 2, 4]: sum dx*dy = 4.5, sum dx^2 = 4.5, sum dy^2 = 5
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    assert spearman([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1)
    assert pearson([1, 2, 3], [2, 4, 7]) == pytest.approx(np.corrcoef([1, 2, 3], [2, 4, 7])[0, 1])
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_regressor_should_fit_the_size_budget():
    m = QualityRegressor()
    assert 300_000 <= count_params(m) <= 1_500_000
    assert count_flops(m) < 0.3e9
    assert m(torch.zeros(2, 3, 112, 112)).shape == (2, 1)


def _args(data, out, steps):
    return ['--data', str(data), '--out', str(out), '--steps', str(steps), '--batch', '4', '--ckpt-every', '1',
            '--eval-every', '2', '--seed', '5', '--threads', '1']


def test_train_should_checkpoint_resume_evaluate_and_export(tmp_path, capsys):
    data = _regset(tmp_path)
    labels = _fake_labels(data)
    index = json.loads((data / 'index.json').read_text())
    train_scores = [json.loads(line)['score'] for line, it in zip(labels.read_text().splitlines(), index['items'])
                    if it['split'] == 'train']
    out = tmp_path / 'run'
    assert train_regressor.main(_args(data, out, 2)) == 0
    assert torch.load(out / 'last.pt', weights_only=False)['step'] == 2
    assert train_regressor.main(_args(data, out, 3)) == 0
    printed = capsys.readouterr().out
    assert 'resumed from' in printed
    ckpt = torch.load(out / 'last.pt', weights_only=False)
    assert ckpt['step'] == 3
    assert (ckpt['label_min'], ckpt['label_max']) == (min(train_scores), max(train_scores))
    rows = list(csv.DictReader(open(out / 'loss.csv')))
    assert [int(r['step']) for r in rows] == [1, 2, 3]
    assert all(np.isfinite(float(r['loss'])) for r in rows)

    report = json.loads((out / 'eval.json').read_text())
    assert json.loads(printed.strip().splitlines()[-1]) == report
    n_held = sum(it['split'] == 'heldout' for it in index['items'])
    assert report['step'] == 3 and report['heldout']['count'] == n_held

    (out / 'eval.json').unlink()
    assert train_regressor.main(['--data', str(data), '--out', str(out), '--eval', '--threads', '1']) == 0
    assert json.loads((out / 'eval.json').read_text()) == report

    # Resuming loses nothing: an uninterrupted 3-step run ends with the same weights.
    straight = tmp_path / 'straight'
    assert train_regressor.main(_args(data, straight, 3)) == 0
    other = torch.load(straight / 'last.pt', weights_only=False)
    for k, v in ckpt['ema'].items():
        assert torch.allclose(v.float(), other['ema'][k].float(), atol=1e-6), k

    onnx_path = tmp_path / 'own' / 'diffiqa-r-own.onnx'
    capsys.readouterr()
    assert train_regressor.main(['--out', str(out), '--export', str(onnx_path), '--threads', '1']) == 0
    printed = capsys.readouterr().out
    entry = json.loads(printed[printed.index('manifest entry:') + len('manifest entry:'):])
    assert entry['sha256'] in printed.splitlines()[0] and entry['version'].endswith('-3')
    assert entry['id'] == 'diffiqa-r-own' and entry['role'] == 'regressor' and entry['batch'] == 'dynamic'
    assert entry['normalisation'] == {'mean': [0.5] * 3, 'std': [0.5] * 3}
    card = onnx_path.with_suffix('.md').read_text()
    assert repr(ckpt['label_min']) in card and repr(ckpt['label_max']) in card and entry['sha256'] in card
    meta = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    assert float(meta['label_min']) == ckpt['label_min'] and float(meta['label_max']) == ckpt['label_max']

    model = QualityRegressor()
    model.load_state_dict(ckpt['ema'])
    model.eval()
    faces = np.fromfile(data / 'faces.u8', np.uint8).reshape(-1, 112, 112, 3)
    x = ((faces.astype(np.float32) / 255 - 0.5) / 0.5).transpose(0, 3, 1, 2).copy()
    sess = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    got = sess.run(['score'], {'input': x})[0]
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    assert got.shape == (24, 1)
    assert np.abs(got - want).max() < 1e-4

    # eval.json describes the exported model on the held-out faces, labels on the train scale.
    held = [k for k, it in enumerate(index['items']) if it['split'] == 'heldout']
    scores = np.array([json.loads(line)['score'] for line in labels.read_text().splitlines()])
    target = (scores[held] - min(train_scores)) / (max(train_scores) - min(train_scores))
    assert report['heldout']['pearson'] == pytest.approx(np.corrcoef(got[held, 0], target)[0, 1], abs=2e-4)
    assert report['heldout']['mae'] == pytest.approx(np.abs(got[held, 0] - target).mean(), abs=2e-4)


def test_train_should_leave_out_unlabelled_faces_and_reject_flat_labels(tmp_path, capsys):
    data = _regset(tmp_path)
    lines = _fake_labels(data).read_text().splitlines()
    (data / 'labels.jsonl').write_text('\n'.join(lines[:-4]) + '\n')
    assert train_regressor.main(_args(data, tmp_path / 'run', 1)) == 0
    assert '(4 unlabelled left out)' in capsys.readouterr().out
    (data / 'labels.jsonl').write_text(''.join(json.dumps({'i': i, 'score': 0.8, 'std': 0}) + '\n' for i in range(24)))
    with pytest.raises(ValueError, match='nothing to learn'):
        train_regressor.main(_args(data, tmp_path / 'flat', 1))


def test_train_should_stop_at_the_time_budget(tmp_path):
    data = _regset(tmp_path)
    _fake_labels(data)
    out = tmp_path / 'run'
    assert train_regressor.main(_args(data, out, 1000) + ['--minutes', '0.0001']) == 0
    assert torch.load(out / 'last.pt', weights_only=False)['step'] <= 1


def test_train_with_distill_should_resume_its_heads_and_export_the_same_network(tmp_path):
    # Needs the shared mirror's MobileFaceNet (the teacher): fails, not skips, when it is missing.
    data = _regset(tmp_path)
    _fake_labels(data)
    out, straight = tmp_path / 'run', tmp_path / 'straight'
    assert train_regressor.main(_args(data, out, 2) + ['--distill', '1']) == 0
    # A resumed run keeps the first run's distillation weight, whatever this one says.
    assert train_regressor.main(_args(data, out, 3) + ['--distill', '0']) == 0
    assert train_regressor.main(_args(data, straight, 3) + ['--distill', '1']) == 0
    ckpt, other = (torch.load(p / 'last.pt', weights_only=False) for p in (out, straight))
    assert ckpt['distill'] == 1.0 and set(ckpt['heads']) == {'out.weight', 'out.bias'}
    assert (data / 'teacher.npz').is_file()        # the teacher's targets, cached with the data
    for k, v in ckpt['heads'].items():
        assert torch.allclose(v, other['heads'][k], atol=1e-6), k
    plain = tmp_path / 'plain'
    assert train_regressor.main(_args(data, plain, 3)) == 0
    # The distillation changed the learning (different weights), not the network that is exported.
    base = torch.load(plain / 'last.pt', weights_only=False)
    assert 'heads' not in base and set(base['ema']) == set(ckpt['ema'])
    assert any(not torch.allclose(v.float(), base['ema'][k].float()) for k, v in ckpt['ema'].items())


def test_rank_loss_should_reward_the_labels_order_and_ignore_near_ties():
    y = torch.tensor([0.1, 0.5, 0.9])
    right, wrong = train_regressor.rank_loss(y.clone(), y), train_regressor.rank_loss(y.flip(0), y)
    assert float(right) < 0.01 < float(wrong)
    # A gradient step moves a swapped pair towards the labels' order.
    pred = torch.tensor([0.6, 0.4], requires_grad=True)
    train_regressor.rank_loss(pred, torch.tensor([0.2, 0.8])).backward()
    assert pred.grad[0] > 0 > pred.grad[1]
    # Labels closer than the repeat noise say nothing about the order.
    assert float(train_regressor.rank_loss(torch.tensor([0.9, 0.1]), torch.tensor([0.50, 0.51]))) == 0


def test_train_with_rank_should_keep_its_weight_when_resumed(tmp_path):
    data = _regset(tmp_path)
    _fake_labels(data)
    out, plain = tmp_path / 'run', tmp_path / 'plain'
    assert train_regressor.main(_args(data, out, 2) + ['--rank', '1']) == 0
    assert train_regressor.main(_args(data, out, 3) + ['--rank', '0']) == 0
    assert train_regressor.main(_args(data, plain, 3)) == 0
    ckpt, base = (torch.load(p / 'last.pt', weights_only=False) for p in (out, plain))
    assert ckpt['rank'] == 1.0 and base['rank'] == 0.0
    assert any(not torch.allclose(v.float(), base['ema'][k].float()) for k, v in ckpt['ema'].items())


def test_init_from_should_start_a_new_run_from_another_runs_weights_and_label_scale(tmp_path, capsys):
    data = _regset(tmp_path)
    _fake_labels(data)
    first, tuned = tmp_path / 'first', tmp_path / 'tuned'
    assert train_regressor.main(_args(data, first, 2)) == 0
    base = torch.load(first / 'last.pt', weights_only=False)
    # New labels on another scale: the fine-tuned run keeps the scale its starting weights speak.
    lines = [json.loads(line) for line in (data / 'labels.jsonl').read_text().splitlines()]
    (data / 'labels.jsonl').write_text(''.join(json.dumps({**r, 'score': r['score'] * 2}) + '\n' for r in lines))
    assert train_regressor.main(_args(data, tuned, 1) + ['--init-from', str(first / 'last.pt'), '--distill', '1']) == 0
    assert 'fine-tuning the weights of' in capsys.readouterr().out
    ckpt = torch.load(tuned / 'last.pt', weights_only=False)
    assert ckpt['step'] == 1 and ckpt['distill'] == 1.0
    assert (ckpt['label_min'], ckpt['label_max']) == (base['label_min'], base['label_max'])
    assert ckpt['lineage'] == [{'steps': 2, 'train_count': base['train_count'], 'distill': 0.0, 'rank': 0.0}]
    # One step from the first run's weights, not from a fresh initialisation.
    fresh = QualityRegressor()
    moved = max(float((ckpt['model'][k].float() - v.float()).abs().max()) for k, v in base['model'].items() if v.dtype.is_floating_point)
    far = max(float((ckpt['model'][k].float() - v.float()).abs().max()) for k, v in fresh.state_dict().items() if v.dtype.is_floating_point)
    assert moved < far
    onnx_path = tmp_path / 'tuned.onnx'
    assert train_regressor.main(['--out', str(tuned), '--export', str(onnx_path), '--threads', '1']) == 0
    assert 'before that 2 steps on' in onnx_path.with_suffix('.md').read_text()


def test_export_with_flip_average_should_output_the_mean_over_the_face_and_its_mirror(tmp_path):
    data = _regset(tmp_path)
    _fake_labels(data)
    out = tmp_path / 'run'
    assert train_regressor.main(_args(data, out, 2)) == 0
    onnx_path = tmp_path / 'flip.onnx'
    assert train_regressor.main(['--out', str(out), '--export', str(onnx_path), '--flip-average', '--threads', '1']) == 0
    # eval.json is of the plain network: the card says so instead of quoting its numbers.
    assert 'No evaluation of step 2 with --flip-average' in onnx_path.with_suffix('.md').read_text()
    ckpt = torch.load(out / 'last.pt', weights_only=False)
    net = QualityRegressor()
    net.load_state_dict(ckpt['ema'])
    net.eval()
    x = torch.rand(3, 3, 112, 112, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        want = ((net(x) + net(x.flip(3))) / 2).numpy()
        plain = net(x).numpy()
    got = ort.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider']).run(['score'], {'input': x.numpy()})[0]
    assert got.shape == (3, 1) and np.abs(got - want).max() < 1e-5
    assert np.abs(got - plain).max() > 1e-4                            # really not the plain network
    assert train_regressor.main(['--data', str(data), '--out', str(out), '--eval', '--flip-average', '--threads', '1']) == 0
    assert json.loads((out / 'eval.json').read_text())['flip_average'] is True
    assert train_regressor.main(['--out', str(out), '--export', str(onnx_path), '--flip-average', '--threads', '1']) == 0
    card = onnx_path.with_suffix('.md').read_text()
    assert 'mirror image' in card and 'Held-out (identity-disjoint' in card


def test_distill_data_should_add_unlabelled_faces_but_none_of_a_held_out_identity(tmp_path, capsys):
    data = _regset(tmp_path)
    _fake_labels(data)
    more = _regset(tmp_path, count=30, seed=9, name='more')        # unlabelled, other degradations
    held = {it['identity'] for it in json.loads((data / 'index.json').read_text())['items'] if it['split'] == 'heldout'}
    items = json.loads((more / 'index.json').read_text())['items']
    assert held and any(it['identity'] in held for it in items)
    out = tmp_path / 'run'
    assert train_regressor.main(_args(data, out, 2) + ['--distill', '1', '--distill-data', str(more), '--distill-batch', '3']) == 0
    kept = sum(it['identity'] not in held for it in items)
    assert f'distillation: {kept} more faces from more, 3 a step' in capsys.readouterr().out
    ckpt = torch.load(out / 'last.pt', weights_only=False)
    assert ckpt['distill_faces'] == kept
    # Targets were computed for the kept faces only.
    table = np.load(more / 'teacher.npz')['targets']
    assert all(np.isfinite(table[i]).all() != (it['identity'] in held) for i, it in enumerate(items))
    # A distilled checkpoint evaluates (its heads and optimiser state are not needed) and exports.
    assert train_regressor.main(['--data', str(data), '--out', str(out), '--eval', '--flip-average', '--threads', '1']) == 0
    onnx_path = tmp_path / 'm.onnx'
    assert train_regressor.main(['--out', str(out), '--export', str(onnx_path), '--threads', '1', '--flip-average']) == 0
    assert 'Held-out (identity-disjoint' in onnx_path.with_suffix('.md').read_text()
    assert f'also on {kept} unlabelled faces' in onnx_path.with_suffix('.md').read_text()


def test_make_regset_hash_split_should_follow_the_project_rule_and_extend_should_never_add_held_out_identities(tmp_path):
    from tools.splits import heldout
    src = _source(tmp_path / 'src', count=60)
    index = json.loads((src / 'index.json').read_text())
    index['identities'] = [f'person_{i % 30}' for i in range(60)]         # 30 names, some held out by the rule
    (src / 'index.json').write_text(json.dumps(index))
    out = tmp_path / 'set'
    assert make_regset.main(['--data', str(src), '--out', str(out), '--count', '20', '--seed', '2', '--split-rule', 'hash']) == 0
    assert make_regset.main(['--data', str(src), '--out', str(out), '--extend', '20']) == 0
    items = json.loads((out / 'index.json').read_text())['items']
    assert any(it['split'] == 'heldout' for it in items[:20])
    for it in items[:20]:
        assert it['split'] == ('heldout' if heldout(it['identity']) else 'train')
    assert all(not heldout(it['identity']) and it['split'] == 'train' for it in items[20:])
