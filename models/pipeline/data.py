"""Fashion-MNIST loading from Debian's dataset-fashion-mnist IDX files (shared by every pipeline script)."""
import gzip
import os

import numpy as np

FMNIST_DIR = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# Normalisation constants shipped in every manifest (mean/std of the train pixels scaled to [0, 1]).
MEAN = 0.2860
STD = 0.3530


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    ndim = magic & 0xFF
    if (magic >> 8) != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {magic:#x})")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return data.reshape(dims)


def load_split(split):
    """Return (images uint8 [N,28,28], labels uint8 [N]) for split 'train' or 't10k'."""
    images = _read_idx(os.path.join(FMNIST_DIR, f"{split}-images-idx3-ubyte.gz"))
    labels = _read_idx(os.path.join(FMNIST_DIR, f"{split}-labels-idx1-ubyte.gz"))
    return images, labels


def normalise(images_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28], exactly the manifest preprocessing."""
    x = images_u8.astype(np.float32)[:, None] / 255.0
    return (x - MEAN) / STD
