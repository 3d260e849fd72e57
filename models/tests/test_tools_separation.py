import json

import numpy as np
import pytest

from tools.separation import auc, table


def test_auc_should_count_pairs_and_split_ties():
    assert auc(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == 1.0
    assert auc(np.array([1.0]), np.array([2.0])) == 0.0
    assert auc(np.array([1.0, 3.0]), np.array([2.0, 1.0])) == pytest.approx(0.625)   # (0.5 + 0 + 1 + 1) / 4


def test_table_should_read_the_cache_rows_and_skip_uncomputed_scores(tmp_path):
    (tmp_path / 'set').mkdir()
    files = {'a.jpg': 'clean', 'b.jpg': 'blur', 'c.jpg': 'clean', 'd.jpg': 'blur'}
    (tmp_path / 'set' / 'manifest.json').write_text(json.dumps({'files': {f: {'kind': k} for f, k in files.items()}}))
    cache = tmp_path / 'cache'
    (cache / 'scores').mkdir(parents=True)
    (cache / 'index.json').write_text(json.dumps({'files': {f: {'row': i} for i, f in enumerate(files)}}))
    np.array([0.9, 0.2, 0.8, np.nan], np.float32).tofile(cache / 'scores' / 'x.f32')
    (cache / 'scores' / 'x.json').write_text(json.dumps({'scorer': 'x@1'}))
    out = table(tmp_path / 'set', cache)
    assert '| x@1 | 3 | 1.000 |' in out
