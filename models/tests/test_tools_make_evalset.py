import hashlib
import io
import json
from collections import Counter

import numpy as np
from PIL import Image

from tools import make_evalset, splits


def _photo(seed=0, size=(200, 240)):
    rng = np.random.default_rng(seed)
    check = (np.add.outer(np.arange(size[0]) // 6, np.arange(size[1]) // 6) % 2).astype(np.float64)
    return np.round((0.25 + 0.5 * check[..., None] * rng.uniform(0.5, 1, 3)) * 255).astype(np.uint8)


def _all_files(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*')) if p.is_file()}


def test_heldout_should_follow_the_sha256_mod_5_rule():
    names = ['George_W_Bush', 'Colin_Powell', 'AJ_Cook', 'Aaron_Eckhart', 'Tony_Blair', 'Serena_Williams']
    for n in names:
        assert splits.heldout(n) == (int(hashlib.sha256(n.encode()).hexdigest(), 16) % 5 == 0)
    share = np.mean([splits.heldout(f'person_{i}') for i in range(5000)])
    assert 0.18 < share < 0.22


def test_lfw_sources_should_keep_only_heldout_identities_with_2_to_12_images(mirror):
    sources = make_evalset.lfw_sources(mirror)
    counts = Counter(i for _, i in sources)
    assert len(counts) > 100
    assert all(splits.heldout(i) for i in counts)
    assert all(2 <= n <= make_evalset.LFW_MAX_PER_IDENTITY for n in counts.values())
    assert all(f.startswith(f'{i}/') for f, i in sources)
    # An identity with many photos is cut to the first 12 (sorted), never dropped.
    lfw = mirror / 'data' / 'lfw'
    big = [d.name for d in lfw.iterdir() if d.is_dir() and splits.heldout(d.name) and len(list(d.iterdir())) > 12]
    assert big and all(counts[b] == 12 for b in big)
    kept_out = [d.name for d in lfw.iterdir() if d.is_dir() and not splits.heldout(d.name)][:50]
    assert not any(k in counts for k in kept_out)


def test_choose_should_leave_about_a_third_clean_and_use_every_kind():
    kinds = Counter(make_evalset.choose(make_evalset.file_rng('s', f'{i:06d}.jpg')) for i in range(3000))
    assert 0.30 < kinds['clean'] / 3000 < 0.37
    assert set(kinds) == {'clean', *make_evalset.KINDS}


def test_degrade_should_damage_the_whole_photo_for_every_kind():
    img = _photo()
    for kind in make_evalset.KINDS:
        out, params = make_evalset.degrade(img, kind, np.random.default_rng(3))
        if kind == 'jpeg':
            assert 5 <= params['quality'] <= 25
            out = np.asarray(Image.open(io.BytesIO(out)).convert('RGB'))
        assert out.shape == img.shape and out.dtype == np.uint8, kind
        assert np.abs(out.astype(int) - img).mean() > 3, kind
    clean, params = make_evalset.degrade(img, 'clean', np.random.default_rng(3))
    assert params == {} and np.array_equal(clean, img)
    low, p = make_evalset.degrade(img, 'lowres', np.random.default_rng(4))
    assert 3 <= p['factor'] <= 8 and p['small'][0] <= img.shape[1] / 3 + 1


def test_make_should_be_deterministic_and_seed_each_file_by_its_name(mirror, tmp_path):
    a = make_evalset.make('celeba-wild-cam', mirror, tmp_path / 'a', limit=25)
    b = make_evalset.make('celeba-wild-cam', mirror, tmp_path / 'b', limit=25)
    assert _all_files(tmp_path / 'a') == _all_files(tmp_path / 'b')
    assert a == b and len(a['files']) >= 20
    # A bigger sample gives the shared files the same damage.
    c = make_evalset.make('celeba-wild-cam', mirror, tmp_path / 'c', limit=60)
    for f, v in a['files'].items():
        assert c['files'][f] == v
        assert (tmp_path / 'a' / f).read_bytes() == (tmp_path / 'c' / f).read_bytes()
    other = make_evalset.make('celeba-wild-cam', mirror, tmp_path / 'd', seed='another', limit=25)
    assert [v['kind'] for v in other['files'].values()] != [v['kind'] for v in a['files'].values()]


def test_make_should_write_an_identity_list_and_manifest_that_evaluate_reads(mirror, tmp_path):
    m = make_evalset.make('lfw-heldout-cam', mirror, tmp_path, limit=30)
    lines = (tmp_path / 'identity.txt').read_text().splitlines()
    assert lines[0] == 'file identity'
    listed = dict(l.split() for l in lines[1:])
    assert listed == {f: v['identity'] for f, v in m['files'].items()}
    assert all((tmp_path / f).is_file() and splits.heldout(i) for f, i in listed.items())
    assert min(Counter(listed.values()).values()) >= 2
    stored = json.loads((tmp_path / 'manifest.json').read_text())
    assert stored['kinds'] == dict(sorted(Counter(v['kind'] for v in m['files'].values()).items()))
    assert str(mirror) not in (tmp_path / 'manifest.json').read_text()


def test_lfw_val_cam_should_take_only_validation_identities_none_held_out(mirror):
    val = make_evalset.lfw_sources(mirror, validation=True)
    held = make_evalset.lfw_sources(mirror)
    ids = {i for _, i in val}
    assert len(ids) > 100
    assert all(splits.validation(i, make_evalset.VAL_FRACTION) and not splits.heldout(i) for i in ids)
    assert not ids & {i for _, i in held}
    counts = Counter(i for _, i in val)
    assert min(counts.values()) >= 2 and max(counts.values()) <= 12
