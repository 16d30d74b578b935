"""Copies a train_rgb.py checkpoint into a committable, resumable file (optimizer moments as bfloat16, ~13 MB).

  /usr/bin/python3 models/pipeline/rgb_snapshot.py models/pipeline/runs-rgb/rgb-vicreg/checkpoint.pt \
      models/pipeline/checkpoints/rgb-vicreg-latest.pt
Resume it with train_rgb.py --resume OUT (same --method and config; --steps may grow).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train import save_atomic  # noqa: E402
from train_rgb import compact_opt_state  # noqa: E402


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, dst = sys.argv[1:]
    ck = torch.load(src, map_location="cpu")
    ck["opt"] = compact_opt_state(ck["opt"])
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    save_atomic(ck, dst)
    print(f"{dst}: step {ck['step']}, {os.path.getsize(dst) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
