"""INT8 variant of an exported regressor: static QDQ quantisation calibrated on aligned faces, with a
fidelity check against the float model on faces the calibration did not see.

    PYTHONPATH=models models/.venv/bin/python -m export.quantize --model DIR/diffiqa-r.onnx --images ALIGNED_DIR --out DIR

Why: onnxruntime's CPU kernels for int8 convolutions (VNNI/AMX) run an iResNet-100 about twice as fast
as its float ones, and a regressor's job (ranking faces) survives 8-bit weights and activations when the
calibration faces look like the traffic. Whether it survives is measured, not assumed: the float and int8
graphs score `--check` held-back faces and the run fails (exit 2, nothing written) when their Spearman
correlation is below `--min-spearman`.

Writes OUT/<id>-int8.onnx and OUT/<id>-int8.manifest.json ({"models": [entry]}, an extra manifest for the
runtime: the float entry with the new id, file, sha256 and a `quantisation` block holding the fidelity).
Prints the entry as JSON on stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image

from export.errors import ExportError
from export.exporter import SIZE, sha256_file
from tools.stats import pearson, spearman

METHODS = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile, "entropy": CalibrationMethod.Entropy}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


def load_faces(folder: Path, count: int, mean: list[float], std: list[float]) -> np.ndarray:
    """The first `count` aligned faces of `folder` (sorted by name) as the runtime feeds them: NCHW, RGB,
    (pixel/255 - mean)/std. Faces must already be 112x112: resizing here would calibrate on other pixels."""
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)[:count]
    if len(files) < count:
        raise ExportError("USAGE", f"{folder} holds {len(files)} images; {count} are needed (--calibrate + --check)")
    out = np.empty((count, 3, SIZE, SIZE), dtype=np.float32)
    m, s = np.array(mean, np.float32), np.array(std, np.float32)
    for i, f in enumerate(files):
        img = Image.open(f).convert("RGB")
        if img.size != (SIZE, SIZE):
            raise ExportError("INPUT_IMAGE_FORMAT", f"{f} is {img.size[0]}x{img.size[1]}, not an aligned {SIZE}x{SIZE} face")
        out[i] = ((np.asarray(img, np.float32) / 255.0 - m) / s).transpose(2, 0, 1)
    return out


class _Batches(CalibrationDataReader):
    def __init__(self, name: str, faces: np.ndarray, batch: int):
        self._it = iter([{name: faces[i:i + batch]} for i in range(0, len(faces), batch)])

    def get_next(self):
        return next(self._it, None)


def fidelity(reference: np.ndarray, quantised: np.ndarray) -> dict:
    """How far the int8 scores are from the float ones, in the terms a quality gate cares about:
    order (Spearman), linear agreement, and the error against the spread of the scores."""
    a, b = reference.astype(np.float64).ravel(), quantised.astype(np.float64).ravel()
    diff = np.abs(a - b)
    spread = float(a.std()) or 1.0
    return {
        "images": int(a.size),
        "spearman": round(spearman(a, b), 4),
        "pearson": round(pearson(a, b), 4),
        "maxAbsDiff": float(diff.max()),
        "meanAbsDiff": float(diff.mean()),
        "maxAbsDiffOverStd": round(float(diff.max()) / spread, 4),
    }


def _run(path: Path, name: str, faces: np.ndarray, threads: int) -> np.ndarray:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return np.concatenate([sess.run(None, {name: faces[i:i + 16]})[0] for i in range(0, len(faces), 16)])


def quantise(model: Path, faces: np.ndarray, calibrate: int, out: Path, method: str, threads: int) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        # Shape inference and graph folding first, as onnxruntime recommends: the BatchNorms folded into
        # convolutions are quantised with them instead of staying float between two QDQ pairs.
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(model), str(pre), skip_symbolic_shape=True)
        name = ort.InferenceSession(str(pre), providers=["CPUExecutionProvider"]).get_inputs()[0].name
        # Signed 8-bit activations and weights, symmetric, per output channel: the S8S8 form whose
        # convolution kernels onnxruntime has for VNNI/AMX CPUs; per-channel keeps thin filters exact.
        quantize_static(str(pre), str(out), _Batches(name, faces[:calibrate], 8), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        calibrate_method=METHODS[method],
                        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m export.quantize", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, type=Path, help="float regressor ONNX (an export.cli output)")
    p.add_argument("--manifest", type=Path, help="its manifest (default: MODEL with .manifest.json)")
    p.add_argument("--images", required=True, type=Path, help="folder of aligned 112x112 faces like the traffic")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--calibrate", type=int, default=64, help="faces that set the activation ranges")
    p.add_argument("--check", type=int, default=64, help="further faces on which float and int8 are compared")
    p.add_argument("--method", choices=sorted(METHODS), default="minmax")
    p.add_argument("--min-spearman", type=float, default=0.98, help="fail below this float-vs-int8 rank agreement")
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    manifest_path = args.manifest or args.model.with_suffix(".manifest.json")
    if not manifest_path.is_file():
        raise ExportError("USAGE", f"{manifest_path} not found: pass --manifest (the export's manifest entry)")
    entries = json.loads(manifest_path.read_text())["models"]
    entry = next((e for e in entries if e["file"] == args.model.name), None)
    if entry is None or entry.get("role") != "regressor":
        raise ExportError("USAGE", f"{manifest_path} has no regressor entry for {args.model.name}")
    if args.calibrate < 1 or args.check < 2:
        raise ExportError("USAGE", "--calibrate must be >= 1 and --check >= 2")
    started = time.monotonic()
    norm = entry["normalisation"]
    faces = load_faces(args.images, args.calibrate + args.check, norm["mean"], norm["std"])
    args.out.mkdir(parents=True, exist_ok=True)
    qid = f"{entry['id']}-int8"
    out = args.out / f"{qid}.onnx"
    tmp = out.with_suffix(".tmp.onnx")
    quantise(args.model, faces, args.calibrate, tmp, args.method, args.threads)
    name = entry["input"]["name"]
    held = faces[args.calibrate:]
    fid = fidelity(_run(args.model, name, held, args.threads), _run(tmp, name, held, args.threads))
    print(f"float vs int8 on {fid['images']} faces not used for calibration: Spearman {fid['spearman']}, "
          f"max |diff| {fid['maxAbsDiff']:.3g} ({fid['maxAbsDiffOverStd']} x the float scores' std); "
          f"{time.monotonic() - started:.0f} s", file=sys.stderr)
    if not fid["spearman"] >= args.min_spearman:
        tmp.unlink()
        raise ExportError("MODEL_OUTPUT", f"int8 ranks faces differently from the float model: Spearman {fid['spearman']} < "
                          f"--min-spearman {args.min_spearman}; calibrate on faces closer to the traffic, try --method percentile, or keep float",
                          {"fidelity": fid})
    tmp.replace(out)
    q = {**entry, "id": qid, "version": f"{entry['version']}-int8", "file": out.name, "sha256": sha256_file(out), "url": None,
         "quantisation": {"format": "QDQ S8S8 per-channel", "method": args.method, "calibrationFaces": args.calibrate,
                          "fromSha256": entry["sha256"], "fidelity": fid}}
    q.pop("bundledPath", None)
    (args.out / f"{qid}.manifest.json").write_text(json.dumps({"models": [q]}, indent=2) + "\n")
    return q


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        entry = run(args)
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(entry, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
