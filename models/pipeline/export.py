"""Exports an encoder checkpoint to fp32 ONNX (opset 13, dynamic batch, BatchNorm folded into the convs).

Input `input` [N,1,28,28] float32, already normalised ((x/255 - mean) / std); output `embedding` [N,dim].
RGB camera checkpoints (config kind "rgb", from train_rgb.py) export as [N,3,S,S] with per-channel
mean/std, and the folding check runs on pretraining-pool views instead of Fashion-MNIST.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import load_split, normalise  # noqa: E402
from eval import load_encoder  # noqa: E402


def fold_bn(enc):
    """Returns an equivalent nn.Sequential with every Conv2d+BatchNorm2d pair merged into one Conv2d."""
    layers = list(enc.features)
    out = []
    i = 0
    while i < len(layers):
        m = layers[i]
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(m, nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d):
            conv = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, bias=True)
            k = nxt.weight.detach() / torch.sqrt(nxt.running_var + nxt.eps)
            conv.weight.data = m.weight.detach() * k.view(-1, 1, 1, 1)
            b = m.bias.detach() if m.bias is not None else torch.zeros(m.out_channels)
            conv.bias.data = (b - nxt.running_mean) * k + nxt.bias.detach()
            out.append(conv)
            i += 2
        else:
            out.append(nn.ReLU() if isinstance(m, nn.ReLU) else m)
            i += 1
    return nn.Sequential(*out, nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()


def inline_shared_initializers(model):
    """The exporter dedups equal initializers (e.g. the all-zero BN biases of a random init) into
    Identity nodes; give each its own copy so the graph stays in quantize.py's op set."""
    from onnx import numpy_helper
    inits = {i.name: i for i in model.graph.initializer}
    ids = [n for n in model.graph.node if n.op_type == "Identity" and n.input[0] in inits]
    for n in ids:
        arr = numpy_helper.to_array(inits[n.input[0]])
        model.graph.initializer.append(numpy_helper.from_array(arr.copy(), n.output[0]))
        model.graph.node.remove(n)
    return len(ids)


def load_any(ckpt):
    """(encoder, checkpoint) for a Fashion-MNIST or an RGB checkpoint."""
    ck = torch.load(ckpt, map_location="cpu")
    if ck["config"].get("kind") != "rgb":
        return load_encoder(ckpt)
    from rgb_model import RGBEncoder
    enc = RGBEncoder(ck["config"]["arch"])
    enc.load_state_dict(ck["encoder"])
    return enc.eval(), ck


def check_batch(ck, n):
    """Real inputs for the folding check: FMNIST test images, or RGB views from the pretraining pool."""
    if ck["config"].get("kind") == "rgb":
        from rgb_augment import pool_views
        return pool_views(n, ck["config"]["size"], seed=12345)
    x, _ = load_split("t10k")
    return torch.from_numpy(normalise(x[:n]))


def export(ckpt, out_path, check_images=256):
    enc, ck = load_any(ckpt)
    folded = fold_bn(enc)
    cfg = ck["config"]
    dummy = torch.zeros(2, 3, cfg["size"], cfg["size"]) if cfg.get("kind") == "rgb" else torch.zeros(2, 1, 28, 28)
    torch.onnx.export(folded, dummy, out_path, opset_version=13, input_names=["input"], output_names=["embedding"],
                      dynamic_axes={"input": {0: "N"}, "embedding": {0: "N"}}, do_constant_folding=True)
    model = onnx.load(out_path)
    if inline_shared_initializers(model):
        onnx.save(model, out_path)
    onnx.checker.check_model(model)
    # BN folding must not change the function (eval mode): compare on real test images.
    xb = check_batch(ck, check_images)
    with torch.no_grad():
        a, b = enc(xb).numpy(), folded(xb).numpy()
    cos = float(np.mean(np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)))
    return {"onnx": out_path, "ops": sorted({n.op_type for n in model.graph.node}), "fold_cosine": cos,
            "config": ck["config"], "step": ck.get("step"), "train_seconds": ck.get("train_seconds")}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("ckpt")
    ap.add_argument("--out", required=True)
    ap.add_argument("--reference", help="also write PyTorch (unfolded) embeddings of the first --reference-count "
                                        "images of models/data/fmnist-test-5000 to this JSON")
    ap.add_argument("--reference-count", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(1)
    res = export(args.ckpt, args.out)
    if args.reference:
        import gzip
        n = args.reference_count
        raw = gzip.open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                                     "fmnist-test-5000.images.u8.gz")).read()
        imgs = np.frombuffer(raw, dtype=np.uint8)[: n * 784].reshape(n, 28, 28)
        enc, _ = load_encoder(args.ckpt)
        with torch.no_grad():
            z = enc(torch.from_numpy(normalise(imgs))).numpy()
        with open(args.reference, "w") as f:
            json.dump({"count": n, "embeddings": z.tolist()}, f)
    print(json.dumps({k: v for k, v in res.items() if k != "config"}))
    if res["fold_cosine"] < 0.9999:
        raise SystemExit(f"BN folding changed the embeddings (cosine {res['fold_cosine']})")


if __name__ == "__main__":
    main()
