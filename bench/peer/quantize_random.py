"""The INT8 variant of the random-weight iResNet-100 regressor (random_regressor.py), made by the
project's quantiser (models/export/quantize.py) exactly as a user makes one from the official export.

    PYTHONPATH=models models/.venv/bin/python bench/peer/quantize_random.py --dir .cache/bench/diffiqa-r-random --images DIR

Calibrates on aligned LFW faces the bench wrote (not the faces the peer section times). With random
weights the float-vs-int8 agreement says only that the int8 graph computes nearly the same function;
what it is worth on trained weights is measured on those (models/export/README.md). Skips the work
when the file exists. Prints {"onnx": ..., "manifest": ..., "fidelity": {...}} as one JSON line.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

from export.quantize import main as quantize_main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", type=Path, required=True, help="random_regressor.py's export folder")
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--calibrate", type=int, default=64)
    p.add_argument("--check", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    onnx_path, manifest = args.dir / "diffiqa-r-int8.onnx", args.dir / "diffiqa-r-int8.manifest.json"
    if not (onnx_path.is_file() and manifest.is_file()):
        with contextlib.redirect_stdout(io.StringIO()):
            code = quantize_main(["--model", str(args.dir / "diffiqa-r.onnx"), "--images", str(args.images), "--out", str(args.dir),
                                  "--calibrate", str(args.calibrate), "--check", str(args.check), "--threads", str(args.threads),
                                  "--min-spearman", "0"])
        if code != 0:
            return code
    entry = json.loads(manifest.read_text())["models"][0]
    print(json.dumps({"onnx": str(onnx_path), "manifest": str(manifest), "fidelity": entry["quantisation"]["fidelity"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
