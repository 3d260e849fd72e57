import json

import numpy as np

from tools import edc_bootstrap


def _cache(tmp_path, rng):
    """An evaluate cache of 60 identities x 5 images; a third of the images are bad (noisy embeddings)."""
    data, cache = tmp_path / 'set', tmp_path / 'cache'
    data.mkdir()
    (cache / 'scores').mkdir(parents=True)
    n = 300
    files = [f'p{k // 5}/{k}.jpg' for k in range(n)]
    (data / 'identity.txt').write_text('file identity\n' + ''.join(f'{f} {f.split("/")[0]}\n' for f in files))
    (cache / 'index.json').write_text(json.dumps({'key': {'data': str(data)}, 'rows': n,
                                                  'files': {f: {'row': k} for k, f in enumerate(files)}}))
    bad = rng.random(n) < 0.33
    centre = rng.normal(size=(60, 32))
    emb = centre[np.arange(n) // 5] + rng.normal(size=(n, 32)) * np.where(bad, 2.5, 0.3)[:, None]
    emb.astype(np.float32).tofile(cache / 'embeddings.f32')
    for name, s in (('knows', (~bad) + rng.random(n) * 0.1), ('random', rng.random(n))):
        (cache / 'scores' / f'{name}_v1-x.json').write_text(json.dumps({'scorer': f'{name}@v1'}))
        s.astype(np.float32).tofile(cache / 'scores' / f'{name}_v1-x.f32')
    return cache


def test_bootstrap_should_give_a_difference_interval_below_zero_for_a_real_lead(tmp_path, capsys):
    cache = _cache(tmp_path, np.random.default_rng(3))
    assert edc_bootstrap.main(['--cache', str(cache), '--scorer', 'knows', '--scorer', 'random',
                               '--reps', '30', '--impostors', '20000']) == 0
    out = json.loads(capsys.readouterr().out)
    lo, hi = out['pauc']['knows']['ci95']
    assert lo <= out['pauc']['knows']['point'] <= hi
    diff = out['difference']['knows - random']
    assert diff['ci95'][1] < 0 and diff['share_below_0'] == 1.0


def test_bootstrap_should_straddle_zero_for_a_scorer_against_itself_with_noise(tmp_path, capsys):
    rng = np.random.default_rng(4)
    cache = _cache(tmp_path, rng)
    # A second random order: neither leads, the interval of the difference holds 0.
    s = rng.random(300).astype(np.float32)
    (cache / 'scores' / 'other_v1-y.json').write_text(json.dumps({'scorer': 'other@v1'}))
    s.tofile(cache / 'scores' / 'other_v1-y.f32')
    assert edc_bootstrap.main(['--cache', str(cache), '--scorer', 'random', '--scorer', 'other',
                               '--reps', '30', '--impostors', '20000']) == 0
    diff = json.loads(capsys.readouterr().out)['difference']['random - other']
    assert diff['ci95'][0] < 0 < diff['ci95'][1]
