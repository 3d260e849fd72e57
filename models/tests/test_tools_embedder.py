import numpy as np
import onnxruntime as ort
import torch

from tools.build_embedder import OUT_NAME, check_faces, compare_with_shipped, load_mobilefacenet, main


def test_export_should_match_shipped_batch1_model_on_a_batch_of_real_faces(mirror, tmp_path):
    assert main(['--mirror', str(mirror), '--out', str(tmp_path)]) == 0
    assert compare_with_shipped(tmp_path / OUT_NAME, mirror) < 1e-4


def test_export_should_accept_any_batch_size_and_match_pytorch(mirror, tmp_path):
    model = load_mobilefacenet(mirror)
    assert main(['--mirror', str(mirror), '--out', str(tmp_path)]) == 0
    faces = check_faces(mirror)[:3]
    sess = ort.InferenceSession(str(tmp_path / OUT_NAME), providers=['CPUExecutionProvider'])
    out = sess.run(['output0'], {'input0': faces})[0]
    with torch.no_grad():
        ref = model(torch.from_numpy(faces)).numpy()
    assert out.shape == (3, 128)
    np.testing.assert_allclose(out, ref, atol=1e-4)


def test_embedder_should_tell_same_identity_from_other_identity(mirror):
    # Sanity that the architecture really carries the trained weights: a random net would not
    # rank the same person above another on real faces.
    from tools.common import lfw_face, to_imagenet
    model = load_mobilefacenet(mirror)
    rels = ['George_W_Bush/George_W_Bush_0001.jpg', 'George_W_Bush/George_W_Bush_0002.jpg',
            'Serena_Williams/Serena_Williams_0001.jpg']
    x = torch.from_numpy(np.stack([to_imagenet(lfw_face(mirror, r)) for r in rels]))
    with torch.no_grad():
        e = torch.nn.functional.normalize(model(x), dim=1)
    assert float(e[0] @ e[1]) > float(e[0] @ e[2]) + 0.2
