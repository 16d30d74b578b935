"""Learning curve of one run: linear probe and k-NN of every encoder snapshot train.py kept (PyTorch fp32)."""
import argparse
import glob
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import load_split  # noqa: E402
from eval import embed, evaluate, load_encoder  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run_dir")
    args = ap.parse_args()
    torch.set_num_threads(1)
    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    x = np.concatenate([xtr, xte])
    rows = []
    for path in sorted(glob.glob(os.path.join(args.run_dir, "encoder-step*.pt"))):
        enc, ck = load_encoder(path)
        z = embed(enc, x)
        r = {"step": ck["step"], "train_seconds": round(ck["train_seconds"], 1),
             **evaluate(z[:len(xtr)], ytr, z[len(xtr):], yte)}
        rows.append(r)
        print(json.dumps(r), flush=True)
    with open(os.path.join(args.run_dir, "curve.json"), "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
