"""Builds the camera benchmark deterministically from Debian images the RGB encoder never trained on.

Objects: Tux Paint stamps (with transparency), after removing any stamp whose content or near-duplicate
thumbnail also occurs in the pretraining pool (tuxpaint borrows from openclipart). Frames are composites:
  shot    - each known object, 10 frames on labelling backgrounds (set A: UKUI + Lomiri 16.04 wallpapers)
  testA   - known objects on set A again, other positions/scales/lighting (the "same backgrounds" case)
  testB   - known objects on set B (other Lomiri wallpapers + scikit-image photos): the unseen-background case
  unknown - objects never labelled, on set B (open-set AUROC)
Every frame has an "empty" twin: the same scene without the object, with fresh sensor noise and a slight
exposure change (what a fixed camera's background reference sees), and a viewfinder box: a square around
the object in which its longer side covers >= 71% of the box side, i.e. it fills >= 50% of the box.

  /usr/bin/python3 bench/camera/build.py [--out bench/camera/.cache/camera-v1]
Writes frames.u8 / empty.u8 (N x F x F x 3 raw) and meta.json (items, objects, disjointness report, sha256).
Fails when the final selection shares a path, a file's bytes or a near-duplicate thumbnail with pretraining.
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "models", "pipeline"))
from rgb_data import BENCH, PRETRAIN, check_disjoint, file_lists, load_rgba, pool_objects, thumb  # noqa: E402

FRAME = 160
STAMPS = "/usr/share/tuxpaint/stamps/"


def pick_objects(cands, n, rng):
    """One stamp per category folder (distinct things, not five birds), in a seeded order."""
    by_cat = {}
    for p in cands:
        by_cat.setdefault(os.path.dirname(p), []).append(p)
    cats = sorted(by_cat)
    rng.shuffle(cats)
    picked = []
    for c in cats:
        files = sorted(by_cat[c])
        picked.append(files[int(rng.integers(len(files)))])
        if len(picked) == n:
            break
    return picked


def usable(rgba):
    a = rgba[..., 3] > 16
    ys, xs = np.nonzero(a)
    if len(ys) == 0:
        return False
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    return min(h, w) >= 48 and a[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1].mean() > 0.3 and a.mean() < 0.97


def crop_alpha(rgba):
    ys, xs = np.nonzero(rgba[..., 3] > 16)
    return rgba[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]


def background(path_img, rng):
    from PIL import Image
    im = Image.fromarray(path_img[..., :3])
    w, h = im.size
    s = int(min(w, h) * rng.uniform(0.5, 1.0))
    x0, y0 = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
    return np.asarray(im.crop((x0, y0, x0 + s, y0 + s)).resize((FRAME, FRAME), Image.BILINEAR)).astype(np.float32) / 255


def place(obj, rng, scale, rot):
    """Rotated, scaled object (float RGBA) and its top-left position fully inside the frame."""
    from PIL import Image
    im = Image.fromarray(obj, "RGBA").rotate(float(rng.uniform(-rot, rot)), resample=Image.BICUBIC, expand=True)
    im = im.crop(im.getbbox())
    long_side = int(FRAME * rng.uniform(*scale))
    f = long_side / max(im.size)
    im = im.resize((max(1, round(im.size[0] * f)), max(1, round(im.size[1] * f))), Image.LANCZOS)
    o = np.asarray(im).astype(np.float32) / 255
    h, w = o.shape[:2]
    y0, x0 = int(rng.integers(0, FRAME - h + 1)), int(rng.integers(0, FRAME - w + 1))
    return o, y0, x0


def blur(img, sigma):
    if sigma <= 0.05:
        return img
    r = np.arange(-4, 5)
    k = np.exp(-r ** 2 / (2 * sigma ** 2))
    k /= k.sum()
    pad = np.pad(img, ((4, 4), (4, 4), (0, 0)), mode="edge")
    tmp = sum(k[i] * pad[:, i: i + FRAME] for i in range(9))
    return sum(k[i] * tmp[i: i + FRAME] for i in range(9))


def lighting(rng, strong):
    """Per-scene light: exposure, white balance, and a gradient across the frame."""
    b = rng.uniform(0.7, 1.3) if strong else rng.uniform(0.9, 1.1)
    cast = 1 + rng.uniform(-0.1, 0.1, 3) * (1 if strong else 0.3)
    d = rng.uniform(-1, 1, 2) * (0.3 if strong else 0.1)
    g = np.linspace(-1, 1, FRAME)
    grad = 1 + 0.5 * (d[0] * g[None, :] + d[1] * g[:, None])
    return b * cast[None, None, :] * grad[..., None]


def viewfinder(bbox, rng):
    """Square box around the object with (long side / box side)^2 in [0.51, 0.91], kept inside the frame."""
    x, y, w, h = bbox
    long_side = max(w, h)
    s = min(FRAME, int(round(long_side * rng.uniform(1.05, 1.4))))
    cx = x + w / 2 + rng.uniform(-1, 1) * max(0, s - w) / 2
    cy = y + h / 2 + rng.uniform(-1, 1) * max(0, s - h) / 2
    bx = int(round(min(max(cx - s / 2, 0), FRAME - s)))
    by = int(round(min(max(cy - s / 2, 0), FRAME - s)))
    return [bx, by, s, s]


def frame(obj, bg_img, rng, split):
    strong = split != "shot"
    bg = background(bg_img, rng)
    o, y0, x0 = place(obj, rng, (0.3, 0.7) if strong else (0.35, 0.6), 20 if strong else 10)
    h, w = o.shape[:2]
    scene = bg.copy()
    a = o[..., 3:]
    scene[y0: y0 + h, x0: x0 + w] = scene[y0: y0 + h, x0: x0 + w] * (1 - a) + o[..., :3] * a
    light = lighting(rng, strong)
    sigma = rng.uniform(0.3, 1.5) if strong and rng.uniform() < 0.5 else rng.uniform(0, 0.4)
    noise = rng.uniform(0.01, 0.05) if strong else rng.uniform(0.005, 0.02)
    out = []
    for img, exposure in ((scene, 1.0), (bg, rng.uniform(0.97, 1.03))):
        x = blur(img * light * exposure, sigma) + rng.normal(0, noise, img.shape)
        out.append((np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8))
    ys, xs = np.nonzero(a[..., 0] > 0.1)
    bbox = [int(x0 + xs.min()), int(y0 + ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
    return out[0], out[1], bbox, dict(blur=round(float(sigma), 3), noise=round(float(noise), 4))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "camera", ".cache", "camera-v1"))
    ap.add_argument("--known", type=int, default=15)
    ap.add_argument("--unknown", type=int, default=10)
    ap.add_argument("--shots", type=int, default=10)
    ap.add_argument("--test-b", type=int, default=8)
    ap.add_argument("--test-a", type=int, default=4)
    ap.add_argument("--per-unknown", type=int, default=4)
    ap.add_argument("--pool", default=os.path.join(ROOT, "models", "pipeline", "runs-rgb", "pool"),
                    help="pretraining pool (its thumbnails make the near-duplicate check fast); rebuilt lists otherwise")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    bench, pre = file_lists(BENCH), file_lists(PRETRAIN)

    # 1. candidates: usable stamps with no exact or near copy on the pretraining side.
    pool_json = os.path.join(args.pool, "pool.json")
    if os.path.exists(pool_json):
        meta = json.load(open(pool_json))
        pre_objs, pre_thumbs = meta["object_files"], np.load(os.path.join(args.pool, "thumbs.npy"))
    else:
        # No pool cache: the same object list and thumbnails the pool would hold (huge or broken files skipped).
        kept = list(pool_objects(pre["objects"]))
        pre_objs, pre_thumbs = [p for p, _, _ in kept], np.stack([t for _, _, t in kept]).astype(np.float32)
    cands, rgba = [], {}
    for p in bench["objects"]:
        im = load_rgba(p)
        if usable(im):
            cands.append(p)
            rgba[p] = crop_alpha(im)
    bad = check_disjoint(pre_objs, cands, thumbs_a=pre_thumbs,
                         thumbs_b=np.stack([thumb(rgba[p]) for p in cands]))
    dropped = sorted({b.split(" ~ ")[-1].split(" == ")[-1] for b in bad})
    cands = [p for p in cands if p not in dropped]
    objs = pick_objects(cands, args.known + args.unknown, rng)
    known, unknown = objs[: args.known], objs[args.known:]

    # 2. the final selection must be disjoint from pretraining: objects and both background sets.
    final = check_disjoint(pre_objs, objs, thumbs_a=pre_thumbs, thumbs_b=np.stack([thumb(rgba[p]) for p in objs]))
    final += check_disjoint(pre["backgrounds"], bench["backgrounds_a"] + bench["backgrounds_b"], near_dup=0)
    final += check_disjoint(bench["backgrounds_a"], bench["backgrounds_b"], near_dup=0)
    if final:
        raise SystemExit("camera bench is not disjoint from pretraining:\n" + "\n".join(final))

    bgs = {k: [load_rgba(p, max_pixels=40_000_000) for p in bench[k]] for k in ("backgrounds_a", "backgrounds_b")}
    names = [os.path.splitext(p[len(STAMPS):])[0] for p in objs]
    items, frames, empties = [], [], []
    plan = ([("shot", i, args.shots, "backgrounds_a") for i in range(len(known))] +
            [("testA", i, args.test_a, "backgrounds_a") for i in range(len(known))] +
            [("testB", i, args.test_b, "backgrounds_b") for i in range(len(known))] +
            [("unknown", len(known) + j, args.per_unknown, "backgrounds_b") for j in range(len(unknown))])
    for split, oi, count, bg_set in plan:
        for r in range(count):
            b = int(rng.integers(len(bgs[bg_set])))
            f, e, bbox, fx = frame(rgba[objs[oi]], bgs[bg_set][b], rng, split)
            frames.append(f)
            empties.append(e)
            items.append({"split": split, "object": oi, "label": oi if split != "unknown" else -1, "rep": r,
                          "background": bench[bg_set][b], "bbox": bbox, "viewfinder": viewfinder(bbox, rng), **fx})
    os.makedirs(args.out, exist_ok=True)
    fr, em = np.stack(frames).tobytes(), np.stack(empties).tobytes()
    with open(os.path.join(args.out, "frames.u8"), "wb") as f:
        f.write(fr)
    with open(os.path.join(args.out, "empty.u8"), "wb") as f:
        f.write(em)
    meta = {"version": 1, "frame": FRAME, "count": len(items), "seed": args.seed,
            "objects": [{"name": n, "file": p, "known": i < len(known)} for i, (n, p) in enumerate(zip(names, objs))],
            "items": items, "sha256": {"frames": hashlib.sha256(fr).hexdigest(), "empty": hashlib.sha256(em).hexdigest()},
            "disjoint": {"candidates": len(cands) + len(dropped), "droppedAsPretrainingDuplicates": len(dropped),
                         "dropped": dropped, "violations": final, "packages": {"pretrain": PRETRAIN, "bench": BENCH}}}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps({"out": args.out, "count": len(items), "known": names[: len(known)], "unknown": names[len(known):],
                      "dropped": len(dropped), "sha256": meta["sha256"]["frames"][:16]}))


if __name__ == "__main__":
    main()
