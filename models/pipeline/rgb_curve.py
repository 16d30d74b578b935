"""Learning curve of an RGB run: every encoder snapshot exported to ONNX and scored by the camera bench (5-shot, set B).

  /usr/bin/python3 models/pipeline/rgb_curve.py models/pipeline/runs-rgb/rgb-vicreg [--every 500]
Writes RUN/curve.json: per snapshot step, the training loss logged there and 5-shot accuracy per protocol.
Snapshots already in RUN/curve.json are kept, not benched again (the bench is deterministic); --redo re-runs all.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import export  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run_dir")
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--extra", nargs="*", default=[], metavar="NAME=FILE.onnx", help="more encoders in the same bench call")
    ap.add_argument("--redo", action="store_true", help="bench every snapshot again, ignoring RUN/curve.json")
    args = ap.parse_args()
    curve_path = os.path.join(args.run_dir, "curve.json")
    curve = {} if args.redo or not os.path.exists(curve_path) else json.load(open(curve_path))
    snaps = sorted(glob.glob(os.path.join(args.run_dir, "encoder-step*.pt")))
    step_of = lambda s: int(re.search(r"step(\d+)", s).group(1))  # noqa: E731
    snaps = [s for s in snaps if step_of(s) % args.every == 0 and f"step{step_of(s)}" not in curve]
    out_dir = os.path.join(args.run_dir, "curve-onnx")
    os.makedirs(out_dir, exist_ok=True)
    models = []
    for s in snaps:
        step = int(re.search(r"step(\d+)", s).group(1))
        onnx_path = os.path.join(out_dir, f"step{step:06d}.onnx")
        if not os.path.exists(onnx_path):
            export(s, onnx_path, check_images=32)
        models += ["--model", f"step{step}={onnx_path}"]
    for e in args.extra:
        models += ["--model", e]
    if not models:
        print(json.dumps(curve))
        return
    res_path = os.path.join(args.run_dir, "curve-bench.json")
    subprocess.run(["node", "--import", "tsx", os.path.join(ROOT, "bench", "camera", "run.ts"), "--no-default", "--no-learner",
                    "--out", res_path, *models], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    rows = json.load(open(res_path))["rows"]
    loss = {}
    with open(os.path.join(args.run_dir, "log.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            loss[r["step"]] = r["loss"]
    for r in rows:
        curve.setdefault(r["encoder"], {"loss": None})[r["protocol"]] = round(r["ncm"]["k5"], 4)
    for name, c in curve.items():
        if c.get("loss") is not None:
            continue
        m = re.match(r"step(\d+)$", name)
        if m:
            st = int(m.group(1))
            near = min(loss, key=lambda k: abs(k - st)) if loss else None
            c["loss"] = loss.get(near)
    curve = dict(sorted(curve.items(), key=lambda kv: int(m.group(1)) if (m := re.match(r"step(\d+)$", kv[0])) else 1 << 30))
    with open(curve_path, "w") as f:
        json.dump(curve, f, indent=1)
    print(json.dumps(curve))


if __name__ == "__main__":
    main()
