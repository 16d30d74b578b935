"""Turns finished runs into what ships in models/: ONNX files, manifests, calibration ranges, goldens, index.json, results.json.

For every run: export fp32 ONNX, quantize to int8 QDQ, embed train+test with onnxruntime (Node)
for both, measure linear probe and k-NN, then copy the default encoder (best SSL int8 linear
probe, unless --default) as int8 + fp32 and every other SSL method as int8 into models/.
"""
import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import MEAN, STD, normalise  # noqa: E402
from eval import embed, evaluate, load_encoder  # noqa: E402
from data import load_split  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.abspath(os.path.join(HERE, ".."))
ROOT = os.path.abspath(os.path.join(MODELS, ".."))
SSL = ["simclr", "byol", "simsiam", "vicreg", "barlow", "dae"]
PY = sys.executable


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def node_embed(model, out, sample=None):
    cmd = ["node", "--import", "tsx", os.path.join(HERE, "embed_onnx.ts"), model, out, "node"]
    if sample:
        cmd.append(str(sample))
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def process_run(run_dir, method):
    """Export, quantize and evaluate one run; cached in run_dir/ship.json keyed by the checkpoint hash."""
    ckpt = os.path.join(run_dir, "encoder.pt")
    cache = os.path.join(run_dir, "ship.json")
    key = sha256(ckpt)
    if os.path.exists(cache):
        res = json.load(open(cache))
        if res.get("ckpt_sha256") == key:
            return res
    exp = os.path.join(run_dir, "export")
    os.makedirs(exp, exist_ok=True)
    fp32, int8 = os.path.join(exp, "fp32.onnx"), os.path.join(exp, "int8.onnx")
    subprocess.run([PY, os.path.join(HERE, "export.py"), ckpt, "--out", fp32], check=True)
    q = subprocess.run([PY, os.path.join(HERE, "quantize.py"), fp32, "--out", int8], check=True,
                       capture_output=True, text=True)
    qres = json.loads(q.stdout.strip().splitlines()[-1])
    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    metrics = {}
    embs = {}
    for name, path in (("fp32", fp32), ("int8", int8)):
        f = os.path.join(exp, f"{name}.f32")
        node_embed(path, f)
        z = np.fromfile(f, dtype=np.float32).reshape(len(xtr) + len(xte), -1)
        embs[name] = z
        metrics[name] = evaluate(z[:len(xtr)], ytr, z[len(xtr):], yte)
        os.remove(f)
    a, b = embs["fp32"], embs["int8"]
    cos = float(np.mean(np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)))
    ck = torch.load(ckpt, map_location="cpu")
    cfg = ck["config"]
    res = {"method": method, "family": cfg["family"], "ckpt_sha256": key, "config": cfg,
           "steps": ck.get("step"), "train_seconds": round(ck.get("train_seconds", 0.0), 1),
           "epochs": round(ck.get("step", 0) * cfg["batch"] / (60000 if not cfg["limit"] else cfg["limit"]), 2),
           "metrics": metrics, "int8_fp32_cosine_70k": round(cos, 5), "calibration": qres,
           "bytes": {"fp32": os.path.getsize(fp32), "int8": os.path.getsize(int8)}}
    json.dump(res, open(cache, "w"), indent=1)
    return res


def manifest(mid, file, method, family, dtype, metrics, dim, extra):
    path = os.path.join(MODELS, file)
    m = {
        "schema": "edgetune.manifest/1", "id": mid, "format": "onnx", "file": file,
        "bytes": os.path.getsize(path), "sha256": sha256(path),
        "input": {"name": "input", "shape": [None, 1, 28, 28], "layout": "NCHW", "channels": 1,
                  "height": 28, "width": 28, "range": [0, 1], "mean": [MEAN], "std": [STD]},
        "output": {"name": "embedding", "dim": dim, "normalized": False},
        "dtype": dtype, "quantization": "qdq-static-per-channel" if dtype == "int8" else "none",
        "ssl": {"method": method, "family": family}, "license": "MIT",
        "metrics": {"dataset": "fashion-mnist-test", "linearProbe": metrics["linearProbe"], "knn20": metrics["knn20"],
                    **extra},
    }
    with open(os.path.join(MODELS, f"{mid}.json"), "w") as f:
        json.dump(m, f, indent=1)
        f.write("\n")
    return m


def golden(mid, file, ckpt, n=8):
    """Embeddings of the first n sample images: PyTorch (unfolded BN, fp32) and onnxruntime-node for this file."""
    from data import FMNIST_DIR  # noqa: F401  (sample is read from models/data)
    raw = gzip.open(os.path.join(MODELS, "data", "fmnist-test-5000.images.u8.gz")).read()
    imgs = np.frombuffer(raw, dtype=np.uint8)[: n * 784].reshape(n, 28, 28)
    enc, _ = load_encoder(ckpt)
    torch_z = embed(enc, imgs)
    tmp = os.path.join(HERE, "runs", f"{mid}.golden.f32")
    node_embed(os.path.join(MODELS, file), tmp, sample=n)
    ort_z = np.fromfile(tmp, dtype=np.float32).reshape(n, -1)
    os.remove(tmp)
    os.makedirs(os.path.join(MODELS, "golden"), exist_ok=True)
    with open(os.path.join(MODELS, "golden", f"{mid}.json"), "w") as f:
        json.dump({"id": mid, "file": file, "sha256": sha256(os.path.join(MODELS, file)),
                   "images": f"first {n} images of models/data/fmnist-test-5000",
                   "onnxruntimeNode": [[round(float(v), 6) for v in r] for r in ort_z],
                   "pytorchFp32": [[round(float(v), 6) for v in r] for r in torch_z]}, f)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs-dir", default=os.path.join(HERE, "runs"))
    ap.add_argument("--methods", nargs="+", default=["simclr", "byol", "simsiam", "vicreg", "barlow", "dae",
                                                     "supervised", "random"])
    ap.add_argument("--default", help="method of the default encoder (else: best SSL int8 linear probe)")
    ap.add_argument("--no-write", action="store_true", help="only evaluate (runs/<m>/ship.json); leave models/ alone")
    ap.add_argument("--update", action="store_true",
                    help="merge into the existing results.json, index.json and models/: only the listed methods' "
                         "files are rewritten, so the other runs need not be on disk")
    ap.add_argument("--keep-as", help="with --update: keep each replaced results.json entry under '<method>-<KEEP_AS>'")
    ap.add_argument("--rename", nargs="*", default=[], metavar="RUN=KEY",
                    help="with --update: store run RUN under results.json key KEY (e.g. random=random-w48); no files")
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = {}
    for m in args.methods:
        d = os.path.join(args.runs_dir, m)
        if not os.path.exists(os.path.join(d, "encoder.pt")):
            print(f"ship: no finished run for {m} in {d}, skipped", flush=True)
            continue
        results[m] = process_run(d, m)
        r = results[m]
        print(f"ship: {m}: fp32 {r['metrics']['fp32']} int8 {r['metrics']['int8']} cos {r['int8_fp32_cosine_70k']}", flush=True)
    ssl = [m for m in results if m in SSL]
    if not ssl:
        raise SystemExit("ship: no SSL run finished")
    previous = json.load(open(os.path.join(HERE, "results.json"))) if args.update else None
    renames = dict(x.split("=", 1) for x in args.rename) if previous else {}
    if previous:
        default = args.default or previous["default"]
    else:
        default = args.default or max(ssl, key=lambda m: results[m]["metrics"]["int8"]["linearProbe"])
    if args.no_write:
        print(json.dumps({m: r["metrics"] for m, r in results.items()}))
        return
    shipped = []
    for m in ssl:
        if m in renames:
            continue
        r = results[m]
        exp = os.path.join(args.runs_dir, m, "export")
        variants = [("int8", "int8")] + ([("fp32", "fp32")] if m == default else [])
        for dtype, src in variants:
            mid = f"fmnist-cnn-{m}-{dtype}"
            file = f"{mid}.onnx"
            shutil.copyfile(os.path.join(exp, f"{src}.onnx"), os.path.join(MODELS, file))
            extra = {"trainSeconds": r["train_seconds"], "steps": r["steps"]}
            if dtype == "int8":
                shutil.copyfile(os.path.join(exp, "int8.calibration.json"), os.path.join(MODELS, f"{mid}.calibration.json"))
                extra["int8Fp32Cosine"] = r["int8_fp32_cosine_70k"]
            manifest(mid, file, m, r["family"], dtype, r["metrics"][dtype], r["config"]["dim"], extra)
            golden(mid, file, os.path.join(args.runs_dir, m, "encoder.pt"))
            shipped.append(mid)
    runs = {m: {k: v for k, v in r.items() if k != "ckpt_sha256"} for m, r in results.items()}
    listed = [f"{i}.json" for i in shipped]
    if previous:
        merged = dict(previous["runs"])
        runs = {renames.get(m, m): r for m, r in runs.items()}
        for m, r in runs.items():
            if args.keep_as and m in merged:
                merged[f"{m}-{args.keep_as}"] = merged[m]
            merged[m] = r
        runs = merged
        old = json.load(open(os.path.join(MODELS, "index.json")))["models"]
        listed = old + [f for f in listed if f not in old]
    with open(os.path.join(MODELS, "index.json"), "w") as f:
        json.dump({"default": f"fmnist-cnn-{default}-int8", "models": listed}, f, indent=1)
        f.write("\n")
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump({"default": default, "runs": runs}, f, indent=1)
        f.write("\n")
    print(json.dumps({"default": default, "shipped": shipped}))


if __name__ == "__main__":
    main()
