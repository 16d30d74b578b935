#!/usr/bin/python3
"""Converts the shipped default encoder (named by models/index.json) to int8 TFLite next to its ONNX files.

  /usr/bin/python3 models/pipeline/tflite/ship.py [--models models] [--dry-run]

Finds the default's fp32 ONNX manifest (input spec, output, ssl, licence) and the activation ranges
JSON the ONNX quantizer wrote, so the int8 TFLite uses the same activation grid as the int8 ONNX;
tensors without a range there (or every tensor, without a ranges file) are calibrated on the first
512 Debian Fashion-MNIST training images.
Writes models/<base>-int8.tflite and its manifest (models/<base>-int8.json, or
models/<base>-int8-tflite.json when that name is the int8 ONNX's manifest).
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CALIB = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def load(path):
    with open(path) as f:
        return json.load(f)


def default_id(index) -> str:
    if isinstance(index, dict):
        for key in ("default", "defaultId", "default_id"):
            v = index.get(key)
            if isinstance(v, str):
                return v
            if isinstance(v, dict) and isinstance(v.get("id"), str):
                return v["id"]
        entries = index.get("models") or index.get("encoders") or []
    else:
        entries = index
    for e in entries:
        if isinstance(e, dict) and e.get("default"):
            return e.get("id") or e["manifest"].rsplit("/", 1)[-1].removesuffix(".json")
    raise SystemExit(f"models/index.json names no default encoder: {json.dumps(index)[:300]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=os.path.join(HERE, "..", ".."))
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--metric", action="append", default=[], metavar="KEY=NUMBER", help="passed to convert.py")
    a = ap.parse_args()
    models = os.path.abspath(a.models)
    did = default_id(load(os.path.join(models, "index.json")))
    base = re.sub(r"-(int8|fp32|qdq)$", "", did)
    manifests = {}
    for p in glob.glob(os.path.join(models, "*.json")):
        try:
            m = load(p)
        except (OSError, ValueError):
            continue
        if isinstance(m, dict) and m.get("schema") == "edgetune.manifest/1":
            manifests[p] = m
    onnx_fp32 = [(p, m) for p, m in manifests.items() if m["format"] == "onnx" and m["dtype"] == "fp32" and m["id"].startswith(base)]
    if not onnx_fp32:
        raise SystemExit(f"no fp32 ONNX manifest for {base} in {models}")
    src_manifest, src = min(onnx_fp32, key=lambda pm: len(pm[1]["id"]))
    onnx_path = os.path.join(models, src["file"])
    ranges = sorted(
        p for p in glob.glob(os.path.join(models, "**", f"{base}*.json"), recursive=True) + glob.glob(os.path.join(models, "**", f"{base}*", "*.json"), recursive=True)
        if p not in manifests and re.search(r"calib|range", os.path.basename(p))
    )
    out = os.path.join(models, f"{base}-int8.tflite")
    man = os.path.join(models, f"{base}-int8.json")
    if man in manifests and manifests[man]["format"] != "tflite":
        man = os.path.join(models, f"{base}-int8-tflite.json")
    mid = os.path.basename(man).removesuffix(".json")
    cmd = [sys.executable, os.path.join(HERE, "convert.py"), onnx_path, "--out", out, "--int8", "--manifest", src_manifest, "--id", mid, "--manifest-out", man]
    cmd += (["--ranges", ranges[0]] if ranges else []) + ["--calib-images", CALIB, "--calib-count", "512"]
    # Quality metrics come from the int8 ONNX this model mirrors (marked metrics.measuredOn); the
    # browser test measures the agreement between the two, which can be recorded with --metric.
    twins = [p for p, m in manifests.items() if m["format"] == "onnx" and m["dtype"] == "int8" and m["id"].startswith(base)]
    if twins:
        cmd += ["--metrics-from", min(twins, key=len)]
    cmd += [f"--metric={m}" for m in a.metric]
    print(" ".join(cmd))
    if not a.dry_run:
        subprocess.run(cmd, check=True)

if __name__ == "__main__":
    main()
