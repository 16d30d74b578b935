"""RGB image sources from Debian packages: which files pretrain and which evaluate, the disjointness check, the pool cache.

Pretraining uses only the PRETRAIN packages; bench/camera/build.py uses only the BENCH packages. Files are
listed from dpkg's own per-package file lists (/var/lib/dpkg/info/PKG.list), so provenance is the
package. `check_disjoint` verifies that no path, no file content (sha256) and no near-duplicate
thumbnail is shared between the two sides (tuxpaint stamps partly derive from openclipart, so the
content checks matter, not only the package names).

CLI:
  python3 rgb_data.py build-pool [--out DIR]        # pretraining pool cache (objects + backgrounds, uint8 .npy)
  python3 rgb_data.py check [--a A.json --b B.json] # disjointness of two file lists (default: the real ones)
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DPKG_INFO = os.environ.get("DPKG_INFO", "/var/lib/dpkg/info")
SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"
# Per-channel normalisation shipped in the RGB manifests (the usual natural-image constants).
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]

# Pretraining side: objects with alpha from openclipart, backgrounds from MATE and GNOME wallpapers.
PRETRAIN = {
    "objects": ["openclipart-png"],
    "backgrounds": ["mate-backgrounds", "gnome-backgrounds"],
}
# Evaluation side (bench/camera): objects from Tux Paint stamps; labelling backgrounds (set A) from the
# UKUI and Lomiri 16.04 wallpapers; test backgrounds (set B) from the other Lomiri sets and scikit-image photos.
BENCH = {
    "objects": ["tuxpaint-stamps-default"],
    "backgrounds_a": ["ukui-wallpapers", "lomiri-wallpapers-16.04"],
    "backgrounds_b": ["lomiri-wallpapers", "lomiri-wallpapers-20.04", "python3-skimage"],
}
LICENSES = {  # from /usr/share/doc/PKG/copyright
    "openclipart-png": "public domain (Creative Commons Public Domain Dedication)",
    "tuxpaint-stamps-default": "GPL-2",
    "mate-backgrounds": "GPL-2+ and CC-BY-SA-4.0",
    "gnome-backgrounds": "CC-BY-SA-3.0",
    "ukui-wallpapers": "CC-BY-SA-3.0",
    "lomiri-wallpapers": "CC-BY-4.0, CC-BY-SA-3.0, CC-BY-SA-4.0, CC0-1.0, Expat (per file)",
    "lomiri-wallpapers-16.04": "CC-BY-4.0, CC-BY-SA-3.0, CC-BY-SA-4.0, CC0-1.0, Expat (per file)",
    "lomiri-wallpapers-20.04": "CC-BY-4.0, CC-BY-SA-3.0, CC-BY-SA-4.0, CC0-1.0, Expat (per file)",
    "python3-skimage": "BSD-3-Clause (sample images: per skimage/data/README.txt)",
}
# scikit-image ships test fixtures beside its photos; only these are camera-like scenes.
SKIMAGE_PHOTOS = {"astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "motorcycle_right.png",
                  "rocket.jpg", "hubble_deep_field.jpg", "ihc.png", "brick.png", "camera.png", "grass.png",
                  "gravel.png", "moon.png", "coins.png", "page.png", "text.png", "clock_motion.png", "cell.png"}
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".webp")


def package_files(pkg):
    """Image files a Debian package installed (from dpkg's list), sorted; [] when it is not installed."""
    path = os.path.join(DPKG_INFO, pkg + ".list")
    if not os.path.exists(path):
        raise SystemExit(f"{pkg} is not installed (no {path}); run scripts/setup.mjs as root or apt-get install {pkg}")
    with open(path) as f:
        files = [ln.strip() for ln in f if ln.strip().lower().endswith(IMAGE_EXT)]
    files = [p for p in files if os.path.isfile(p) and not os.path.islink(p)]
    if pkg == "python3-skimage":
        files = [p for p in files if os.path.dirname(p) == SKIMAGE_DATA and os.path.basename(p) in SKIMAGE_PHOTOS]
    if pkg == "tuxpaint-stamps-default":
        # Letters, digits and signs are not objects anyone points a camera at; thumbnails are duplicates.
        files = [p for p in files if "/symbols/" not in p and "/town/flags/" not in p and "thumb" not in p]
    return sorted(files)


def file_lists(side):
    return {k: [f for pkg in pkgs for f in package_files(pkg)] for k, pkgs in side.items()}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


MAX_PIXELS = 6_000_000  # a few openclipart PNGs are 100-230 Mpixel posters: minutes each to decode on this CPU


def load_rgba(path, max_pixels=MAX_PIXELS):
    """Any PIL-readable image -> RGBA uint8 array (missing alpha = opaque); ValueError when it is larger than max_pixels."""
    from PIL import Image
    with Image.open(path) as im:
        if max_pixels and im.size[0] * im.size[1] > max_pixels:
            raise ValueError(f"{im.size[0]}x{im.size[1]} is larger than {max_pixels} pixels")
        im.load()
        return np.asarray(im.convert("RGBA"))


def thumb(rgba, n=8):
    """Near-duplicate signature: the image cropped to its alpha box, over mid-grey, n x n RGB + alpha, in [0,1]."""
    from PIL import Image
    a = rgba[..., 3]
    ys, xs = np.nonzero(a > 16)
    if len(ys):
        rgba = rgba[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    im = Image.fromarray(rgba, "RGBA").resize((n, n), Image.BILINEAR)
    x = np.asarray(im).astype(np.float32) / 255.0
    rgb = x[..., :3] * x[..., 3:] + 0.5 * (1 - x[..., 3:])
    return np.concatenate([rgb.ravel(), x[..., 3].ravel()])


def check_disjoint(a_files, b_files, near_dup=0.03, thumbs_a=None, thumbs_b=None):
    """Returns a list of human-readable violations (empty = disjoint).

    Same path, same bytes, or thumbnails closer than `near_dup` mean absolute difference (also
    against the mirror image) all count. Thumbnails may be passed precomputed (the pool has them).
    """
    bad = []
    shared = sorted(set(a_files) & set(b_files))
    bad += [f"same file on both sides: {p}" for p in shared]
    ha = {}
    for p in a_files:
        ha.setdefault(sha256(p), p)
    for p in b_files:
        h = sha256(p)
        if h in ha and ha[h] != p:
            bad.append(f"same content: {ha[h]} == {p}")
    if near_dup > 0:
        ta = thumbs_a if thumbs_a is not None else np.stack([thumb(load_rgba(p)) for p in a_files])
        tb = thumbs_b if thumbs_b is not None else np.stack([thumb(load_rgba(p)) for p in b_files])
        n = 8
        flip = ta.reshape(len(ta), -1)
        rgb = flip[:, : 3 * n * n].reshape(-1, n, n, 3)[:, :, ::-1].reshape(len(ta), -1)
        al = flip[:, 3 * n * n:].reshape(-1, n, n)[:, :, ::-1].reshape(len(ta), -1)
        ta_m = np.concatenate([rgb, al], 1)
        for j, t in enumerate(tb):
            d = np.minimum(np.abs(ta - t).mean(1), np.abs(ta_m - t).mean(1))
            i = int(d.argmin())
            if d[i] < near_dup:
                bad.append(f"near duplicate ({d[i]:.3f}): {a_files[i]} ~ {b_files[j]}")
    return bad


# ---------------------------------------------------------------------------------------------- pool


def fit_object(rgba, size):
    """Crops to the alpha box and fits the longer side to `size`, centred on a transparent size x size canvas."""
    from PIL import Image
    a = rgba[..., 3]
    ys, xs = np.nonzero(a > 16)
    if len(ys) == 0:
        return None
    rgba = rgba[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    h, w = rgba.shape[:2]
    if min(h, w) < 8 or (a > 16).mean() > 0.97:  # specks, or opaque rectangles (no cut-out)
        return None
    s = size / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    im = Image.fromarray(rgba, "RGBA").resize((nw, nh), Image.LANCZOS)
    out = np.zeros((size, size, 4), np.uint8)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0: y0 + nh, x0: x0 + nw] = np.asarray(im)
    return out


def random_crops(rgb, n, size, rng):
    """n square crops (random scale 0.3-1 of the short side, random position) resized to size."""
    from PIL import Image
    im = Image.fromarray(rgb[..., :3])
    w, h = im.size
    out = []
    for _ in range(n):
        s = int(min(w, h) * rng.uniform(0.3, 1.0))
        x0, y0 = rng.integers(0, w - s + 1), rng.integers(0, h - s + 1)
        out.append(np.asarray(im.crop((x0, y0, x0 + s, y0 + s)).resize((size, size), Image.BILINEAR)))
    return out


def dead_leaves(size, rng):
    """Occluding discs with power-law radii and random colours (the 'dead leaves' model of natural images)."""
    img = np.zeros((size, size, 3), np.float32)
    img[:] = rng.uniform(0, 1, 3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    for _ in range(int(rng.integers(60, 200))):
        r = (rng.pareto(2.0) + 1) * size / 40
        cy, cx = rng.uniform(0, size, 2)
        m = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        img[m] = rng.uniform(0, 1, 3)
    return (img * 255).astype(np.uint8)


def spectral_noise(size, rng):
    """Colour noise with a 1/f^a amplitude spectrum (a in 1..2.5): natural-image-like texture statistics."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    f = np.sqrt(fx ** 2 + fy ** 2)
    f[0, 0] = 1
    amp = 1 / f ** rng.uniform(1.0, 2.5)
    chans = []
    for _ in range(3):
        ph = np.exp(2j * np.pi * rng.uniform(0, 1, (size, size)))
        c = np.real(np.fft.ifft2(amp * ph))
        chans.append((c - c.mean()) / (c.std() + 1e-8))
    x = np.stack(chans, -1) @ rng.normal(0, 1, (3, 3)) * 0.18 + rng.uniform(0.2, 0.8, 3)
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def collage(objs, size, rng):
    """A cluttered scene: 4-14 pool objects pasted over a noise or flat background."""
    bg = spectral_noise(size, rng) if rng.uniform() < 0.5 else np.full((size, size, 3), rng.integers(0, 256, 3), np.uint8)
    img = bg.astype(np.float32) / 255
    from PIL import Image
    for _ in range(int(rng.integers(4, 15))):
        o = objs[int(rng.integers(len(objs)))]
        s = int(rng.uniform(0.2, 0.6) * size)
        o = np.asarray(Image.fromarray(o, "RGBA").resize((s, s), Image.BILINEAR)).astype(np.float32) / 255
        y0, x0 = rng.integers(-s // 3, size - s + s // 3, 2)
        ys, xs = slice(max(0, y0), min(size, y0 + s)), slice(max(0, x0), min(size, x0 + s))
        oy, ox = slice(ys.start - y0, ys.stop - y0), slice(xs.start - x0, xs.stop - x0)
        a = o[oy, ox, 3:]
        img[ys, xs] = img[ys, xs] * (1 - a) + o[oy, ox, :3] * a
    return (img * 255).astype(np.uint8)


def pool_objects(files, obj_size=80, skipped=None):
    """The pool's objects in file order: (path, fitted RGBA object, near-duplicate thumbnail) for every file
    that loads (broken or huge files are skipped, and appended to `skipped`) and holds a usable object."""
    for i, p in enumerate(files):
        try:
            rgba = load_rgba(p)
        except Exception as e:  # noqa: BLE001 - a broken or huge file in a package is skipped, and counted
            print(f"skip {p}: {e}", file=sys.stderr)
            if skipped is not None:
                skipped.append(p)
            continue
        if i % 1000 == 0:
            print(f"objects {i}/{len(files)}", flush=True)
        o = fit_object(rgba, obj_size)
        if o is None:
            continue
        yield p, o, thumb(rgba)


def build_pool(out_dir, obj_size=80, bg_size=160, seed=0, crops_per_wallpaper=16, n_leaves=1200, n_noise=800,
               n_collage=1000, limit=0):
    """Writes objects.npy [N,S,S,4], backgrounds.npy [M,B,B,3], thumbs.npy and pool.json (sources, counts)."""
    rng = np.random.default_rng(seed)
    os.makedirs(out_dir, exist_ok=True)
    lists = file_lists(PRETRAIN)
    obj_files = lists["objects"][: limit or None]
    objs, thumbs, used, skipped = [], [], [], []
    for p, o, t in pool_objects(obj_files, obj_size, skipped):
        objs.append(o)
        thumbs.append(t)
        used.append(p)
    objs = np.stack(objs)
    bgs, bg_used = [], []
    for p in lists["backgrounds"]:
        try:
            rgb = load_rgba(p, max_pixels=40_000_000)
        except Exception as e:  # noqa: BLE001
            print(f"skip {p}: {e}", file=sys.stderr)
            continue
        bgs += random_crops(rgb, crops_per_wallpaper, bg_size, rng)
        bg_used.append(p)
    n_wall = len(bgs)
    bgs += [dead_leaves(bg_size, rng) for _ in range(n_leaves)]
    bgs += [spectral_noise(bg_size, rng) for _ in range(n_noise)]
    bgs += [collage(objs, bg_size, rng) for _ in range(n_collage)]
    np.save(os.path.join(out_dir, "objects.npy"), objs)
    np.save(os.path.join(out_dir, "backgrounds.npy"), np.stack(bgs))
    np.save(os.path.join(out_dir, "thumbs.npy"), np.stack(thumbs).astype(np.float32))
    meta = {"objects": len(objs), "object_files": used, "skipped_files": skipped, "background_files": bg_used,
            "backgrounds": {"wallpaper_crops": n_wall, "dead_leaves": n_leaves, "spectral_noise": n_noise,
                            "collages": n_collage},
            "packages": PRETRAIN, "seed": seed, "obj_size": obj_size, "bg_size": bg_size}
    with open(os.path.join(out_dir, "pool.json"), "w") as f:
        json.dump(meta, f)
    print(json.dumps({k: v for k, v in meta.items() if not k.endswith("_files")}))
    return meta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build-pool")
    b.add_argument("--out", default=os.path.join(HERE, "runs-rgb", "pool"))
    b.add_argument("--limit", type=int, default=0)
    b.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("check")
    c.add_argument("--a", help="JSON list of pretraining files (default: the PRETRAIN packages)")
    c.add_argument("--b", help="JSON list of evaluation files (default: the BENCH packages)")
    c.add_argument("--near-dup", type=float, default=0.03, help="0 skips the thumbnail check")
    args = ap.parse_args()
    if args.cmd == "build-pool":
        build_pool(args.out, seed=args.seed, limit=args.limit)
        return
    a = json.load(open(args.a)) if args.a else [f for v in file_lists(PRETRAIN).values() for f in v]
    bl = json.load(open(args.b)) if args.b else [f for v in file_lists(BENCH).values() for f in v]
    bad = check_disjoint(a, bl, near_dup=args.near_dup)
    print(json.dumps({"a": len(a), "b": len(bl), "violations": bad[:50], "count": len(bad)}))
    if bad:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
