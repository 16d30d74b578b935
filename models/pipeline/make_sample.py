"""Writes the seeded, class-stratified 5000-image Fashion-MNIST test sample in models/data/ used offline by demo, tests and benchmarks."""
import argparse
import gzip
import hashlib
import json
import os

import numpy as np

from data import CLASSES, FMNIST_DIR, load_split

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data")
LICENCE = """MIT License

Copyright (c) 2017 Zalando SE

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    images, labels = load_split("t10k")
    per_class = args.count // len(CLASSES)
    rng = np.random.default_rng(args.seed)
    taken = []
    for c in range(len(CLASSES)):
        idx = np.flatnonzero(labels == c)
        taken.extend(rng.choice(idx, size=per_class, replace=False).tolist())
    # Ascending test-set order: classes interleave as in the original file.
    taken = sorted(int(i) for i in taken)
    img = np.ascontiguousarray(images[taken])
    lab = np.ascontiguousarray(labels[taken])
    stem = f"fmnist-test-{args.count}"
    os.makedirs(OUT, exist_ok=True)
    img_path = os.path.join(OUT, f"{stem}.images.u8.gz")
    lab_path = os.path.join(OUT, f"{stem}.labels.u8")
    # mtime=0 and no file name in the header: the gzip bytes (and so the sha256) are reproducible.
    with open(img_path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            gz.write(img.tobytes())
    with open(lab_path, "wb") as f:
        f.write(lab.tobytes())
    with open(os.path.join(OUT, "LICENSE-fashion-mnist.txt"), "w") as f:
        f.write(LICENCE)
    sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
    meta = {
        "count": len(taken),
        "width": 28,
        "height": 28,
        "layout": "N x 28 x 28 uint8, row-major, gzip; labels N uint8",
        "classes": CLASSES,
        "perClass": per_class,
        "source": "Fashion-MNIST test set (t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz), "
                  f"Debian package dataset-fashion-mnist ({FMNIST_DIR}); upstream https://github.com/zalandoresearch/fashion-mnist",
        "license": "MIT",
        "copyright": "Copyright (c) 2017 Zalando SE",
        "licenseFile": "LICENSE-fashion-mnist.txt",
        "seed": args.seed,
        "sampling": f"numpy default_rng({args.seed}).choice of {per_class} test indices per class, classes 0..9 in order, then sorted ascending",
        "files": {
            "images": {"file": os.path.basename(img_path), "sha256": sha(img_path), "bytes": os.path.getsize(img_path)},
            "labels": {"file": os.path.basename(lab_path), "sha256": sha(lab_path), "bytes": os.path.getsize(lab_path)},
        },
        "testIndices": taken,
    }
    with open(os.path.join(OUT, f"{stem}.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(json.dumps({k: v for k, v in meta.items() if k != "testIndices"}, indent=1))


if __name__ == "__main__":
    main()
