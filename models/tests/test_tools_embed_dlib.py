import json

import numpy as np
import pytest

from tools import embed_dlib
from tools.common import lfw_face, sha256_file

FACES = ['George_W_Bush/George_W_Bush_0001.jpg', 'George_W_Bush/George_W_Bush_0002.jpg', 'Colin_Powell/Colin_Powell_0001.jpg']


def _cache(tmp_path, faces):
    """An evaluation cache folder as `evaluate` writes it, holding only what embed_dlib reads."""
    (tmp_path / 'faces.u8').write_bytes(np.stack(faces).astype(np.uint8).tobytes())
    (tmp_path / 'index.json').write_text(json.dumps({'version': 1, 'size': 112, 'dim': 128, 'rows': len(faces), 'files': {}}))
    return tmp_path


def _cos(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_run_should_write_one_128_d_descriptor_per_face_that_tells_people_apart(mirror, tmp_path):
    cache = _cache(tmp_path, [lfw_face(mirror, rel) for rel in FACES])
    note = embed_dlib.run(cache)
    emb = np.fromfile(cache / 'embeddings-dlib.f32', '<f4')
    assert emb.size == 3 * 128 and np.isfinite(emb).all()
    emb = emb.reshape(3, 128)
    same, other = _cos(emb[0], emb[1]), _cos(emb[0], emb[2])
    assert same > other + 0.02, (same, other)
    # dlib's own rule: the same person within Euclidean distance 0.6.
    assert np.linalg.norm(emb[0] - emb[1]) < 0.6 < np.linalg.norm(emb[0] - emb[2])
    stored = json.loads((cache / 'embeddings-dlib.json').read_text())
    assert stored == note and note['count'] == 3 and note['dim'] == 128
    assert note['sha256'] == sha256_file(embed_dlib.DlibEmbedder().model_path)


def test_run_should_give_the_same_bytes_twice(mirror, tmp_path):
    cache = _cache(tmp_path, [lfw_face(mirror, rel) for rel in FACES[:2]])
    embed_dlib.run(cache)
    first = (cache / 'embeddings-dlib.f32').read_bytes()
    embed_dlib.run(cache)
    assert (cache / 'embeddings-dlib.f32').read_bytes() == first


def test_load_faces_should_refuse_a_cache_with_fewer_faces_than_indexed(tmp_path):
    cache = _cache(tmp_path, [np.zeros((112, 112, 3), np.uint8)])
    (cache / 'index.json').write_text(json.dumps({'size': 112, 'rows': 2}))
    with pytest.raises(ValueError, match='fewer than the 2 faces'):
        embed_dlib.load_faces(cache)
