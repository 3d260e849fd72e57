"""dlib's ResNet face descriptors for every face of an evaluation cache: the second, independent FR
model that `diffiqa-gate evaluate --fr dlib` computes similarities with (never a scorer's input).

    PYTHONPATH=models models/.venv/bin/python -m tools.embed_dlib --cache .cache/eval/<hash>

Reads <cache>/index.json (rows, size) and faces.u8 (rows x size x size x 3 RGB, the gate's 112 px
ArcFace-template crops); writes embeddings-dlib.f32 (rows x 128 float32, little-endian, row order
of faces.u8) and embeddings-dlib.json (models and their sha256, dim, count) beside embeddings.f32.

Alignment as dlib expects it: the crop is upscaled to 224 px, dlib's 5-point shape predictor runs
in the face rectangle that dlib's own detector gives on such crops (FACE_RECT: the median over 89
crops of a camera-like LFW sample; fixed, because the ArcFace template puts every face in the same
place), then get_face_chip(150 px, padding 0.25) and compute_face_descriptor. Models from PyPI's
face-recognition-models (dlib_face_recognition_resnet_model_v1, shape_predictor_5_face_landmarks).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tools.common import sha256_file

UPSCALED = 224
FACE_RECT = (15, 54, 194, 233)  # left, top, right, bottom on the 224 px crop
CHIP_SIZE = 150
CHIP_PADDING = 0.25
DIM = 128
BATCH = 64


class DlibEmbedder:
    def __init__(self) -> None:
        import dlib
        import face_recognition_models as frm

        self.dlib = dlib
        self.predictor_path = Path(frm.pose_predictor_five_point_model_location())
        self.model_path = Path(frm.face_recognition_model_location())
        self.predictor = dlib.shape_predictor(str(self.predictor_path))
        self.model = dlib.face_recognition_model_v1(str(self.model_path))
        self.rect = dlib.rectangle(*FACE_RECT)

    def chip(self, face: np.ndarray) -> np.ndarray:
        """An aligned uint8 RGB crop -> dlib's 150 px face chip."""
        big = np.asarray(Image.fromarray(face).resize((UPSCALED, UPSCALED), Image.BICUBIC))
        shape = self.predictor(big, self.rect)
        return self.dlib.get_face_chip(big, shape, size=CHIP_SIZE, padding=CHIP_PADDING)

    def embed(self, faces: np.ndarray) -> np.ndarray:
        """N x S x S x 3 uint8 -> N x 128 float32."""
        out = np.empty((len(faces), DIM), np.float32)
        for i in range(0, len(faces), BATCH):
            chips = [self.chip(f) for f in faces[i:i + BATCH]]
            out[i:i + len(chips)] = np.asarray([np.asarray(d) for d in self.model.compute_face_descriptor(chips)], np.float32)
        return out

    def note(self, count: int) -> dict:
        return {
            'model': self.model_path.name, 'sha256': sha256_file(self.model_path),
            'predictor': self.predictor_path.name, 'predictorSha256': sha256_file(self.predictor_path),
            'alignment': {'upscaled': UPSCALED, 'faceRect': list(FACE_RECT), 'chipSize': CHIP_SIZE, 'padding': CHIP_PADDING},
            'dim': DIM, 'count': count,
        }


def load_faces(cache: Path) -> np.ndarray:
    index = json.loads((cache / 'index.json').read_text())
    rows, size = int(index['rows']), int(index['size'])
    raw = np.fromfile(cache / 'faces.u8', np.uint8, count=rows * size * size * 3)
    if raw.size != rows * size * size * 3:
        raise ValueError(f'{cache}/faces.u8 holds fewer than the {rows} faces index.json names')
    return raw.reshape(rows, size, size, 3)


def write(cache: Path, embeddings: np.ndarray, note: dict) -> None:
    """Embeddings first, the note last (evaluate trusts a note only with a file of its size)."""
    for name, data in (('embeddings-dlib.f32', embeddings.astype('<f4').tobytes()),
                       ('embeddings-dlib.json', (json.dumps(note, indent=1) + '\n').encode())):
        tmp = cache / f'{name}.tmp'
        tmp.write_bytes(data)
        os.replace(tmp, cache / name)


def run(cache: Path) -> dict:
    faces = load_faces(cache)
    embedder = DlibEmbedder()
    embeddings = embedder.embed(faces)
    note = embedder.note(len(faces))
    write(cache, embeddings, note)
    return note


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--cache', type=Path, required=True, help='an evaluation cache folder, .cache/eval/<hash>')
    args = ap.parse_args(argv)
    t0 = time.time()
    note = run(args.cache)
    print(f'embed_dlib: {note["count"]} faces -> {args.cache}/embeddings-dlib.f32 ({time.time() - t0:.1f} s)', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
