"""Prints the model-card comparison table (markdown) from models/pipeline/results.json."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
res = json.load(open(os.path.join(HERE, "results.json")))
order = ["simclr", "byol", "simsiam", "vicreg", "barlow", "dae", "random", "supervised"]
pct = lambda v: f"{100 * v:.2f}"
print("| method | family | linear probe fp32 | linear probe int8 | kNN-20 fp32 | kNN-20 int8 | int8/fp32 cosine | steps (epochs) | training time | int8 size |")
print("|---|---|---|---|---|---|---|---|---|---|")
for m in order:
    r = res["runs"].get(m)
    if not r:
        continue
    f, q = r["metrics"]["fp32"], r["metrics"]["int8"]
    name = f"**{m}** (default)" if m == res["default"] else m
    t = f"{r['train_seconds'] / 60:.1f} min" if r["train_seconds"] else "0"
    print(f"| {name} | {r['family']} | {pct(f['linearProbe'])} | {pct(q['linearProbe'])} | {pct(f['knn20'])} | "
          f"{pct(q['knn20'])} | {r['int8_fp32_cosine_70k']:.5f} | {r['steps']} ({r['epochs']}) | {t} | "
          f"{r['bytes']['int8'] / 1024:.0f} KiB |")
