"""Linear probe and k-NN (k=20, cosine) of frozen embeddings: Fashion-MNIST train split -> full 10k test set.

Embeddings come from a PyTorch encoder checkpoint (--ckpt) or from a raw float32 file of
70000 x dim rows, train then test, e.g. written by embed_onnx.ts from an ONNX model (--emb).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import load_split, normalise  # noqa: E402
from model import build_encoder  # noqa: E402


def load_encoder(path):
    ck = torch.load(path, map_location="cpu")
    cfg = ck["config"]
    enc = build_encoder(cfg["width"], cfg["dim"])
    enc.load_state_dict(ck["encoder"])
    enc.eval()
    return enc, ck


@torch.no_grad()
def embed(enc, images_u8, batch=1000):
    out = []
    for i in range(0, len(images_u8), batch):
        out.append(enc(torch.from_numpy(normalise(images_u8[i:i + batch]))).numpy())
    return np.concatenate(out).astype(np.float32)


def knn_accuracy(train_z, train_y, test_z, test_y, k=20, chunk=1000):
    """Majority vote of the k most cosine-similar train embeddings; ties go to the larger summed similarity."""
    tr = torch.nn.functional.normalize(torch.from_numpy(train_z), dim=1)
    te = torch.nn.functional.normalize(torch.from_numpy(test_z), dim=1)
    ytr = torch.from_numpy(train_y.astype(np.int64))
    correct = 0
    for i in range(0, len(te), chunk):
        sim = te[i:i + chunk] @ tr.t()
        s, idx = sim.topk(k, dim=1)
        votes = torch.zeros(len(s), 10)
        votes.scatter_add_(1, ytr[idx], torch.ones_like(s))
        votes += 1e-3 * torch.zeros(len(s), 10).scatter_add_(1, ytr[idx], s) / k
        correct += (votes.argmax(1).numpy() == test_y[i:i + chunk]).sum()
    return correct / len(te)


def linear_probe(train_z, train_y, test_z, test_y, l2=1e-4, iters=150):
    """Multinomial logistic regression on standardised frozen embeddings (train split -> test set).

    Full-batch L-BFGS in torch with a small L2 penalty: the same objective as sklearn's
    LogisticRegression(C = 1 / (l2 * n)), but it converges in seconds on one core where lbfgs in
    sklearn needed minutes on this shared machine.
    """
    mu, sd = train_z.mean(0), train_z.std(0) + 1e-6
    xtr = torch.from_numpy((train_z - mu) / sd)
    xte = torch.from_numpy((test_z - mu) / sd)
    ytr = torch.from_numpy(train_y.astype(np.int64))
    lin = torch.nn.Linear(xtr.shape[1], 10)
    torch.nn.init.zeros_(lin.weight)
    torch.nn.init.zeros_(lin.bias)
    opt = torch.optim.LBFGS(lin.parameters(), lr=1, max_iter=iters, history_size=20,
                            tolerance_grad=1e-6, tolerance_change=1e-9, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(xtr), ytr) + l2 * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float((lin(xte).argmax(1).numpy() == test_y).mean())


def evaluate(train_z, train_y, test_z, test_y, probe=True):
    res = {"knn20": round(float(knn_accuracy(train_z, train_y, test_z, test_y)), 4)}
    if probe:
        res["linearProbe"] = round(linear_probe(train_z, train_y, test_z, test_y), 4)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--ckpt", help="encoder checkpoint (.pt) from train.py")
    src.add_argument("--emb", help="raw float32 embeddings, 60000 train rows then 10000 test rows")
    ap.add_argument("--dim", type=int, default=256, help="embedding size of --emb")
    ap.add_argument("--no-probe", action="store_true", help="k-NN only (fast)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", help="also write the result JSON here")
    ap.add_argument("--save-emb", help="write the 70000 x dim float32 embeddings here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    t0 = time.time()
    info = {}
    if args.ckpt:
        enc, ck = load_encoder(args.ckpt)
        z = embed(enc, np.concatenate([xtr, xte]))
        info = {"step": ck.get("step"), "train_seconds": round(ck.get("train_seconds", 0.0), 1),
                "method": ck["config"]["method"]}
    else:
        z = np.fromfile(args.emb, dtype=np.float32).reshape(-1, args.dim)
        if len(z) != len(xtr) + len(xte):
            raise SystemExit(f"{args.emb}: {len(z)} rows, expected {len(xtr) + len(xte)}")
    if args.save_emb:
        z.astype(np.float32).tofile(args.save_emb)
    res = {"source": args.ckpt or args.emb, **info,
           **evaluate(z[: len(xtr)], ytr, z[len(xtr):], yte, probe=not args.no_probe),
           "eval_seconds": round(time.time() - t0, 1)}
    print(json.dumps(res), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
