"""Prints the model-card comparison tables (markdown) from models/pipeline/results.json.

Table 1: the equal-budget comparison of the families (width 32). Table 2: the shipped default and the
random-init reference of the same architecture. Entries missing from results.json are skipped.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
res = json.load(open(os.path.join(HERE, "results.json")))
# results.json key -> label; the key the default was shipped from is marked.
EQUAL_BUDGET = [("simclr", "simclr"), ("byol", "byol"), ("simsiam", "simsiam"), ("vicreg-equal-budget", "vicreg"),
                ("barlow", "barlow"), ("dae", "dae"), ("random", "random init"), ("supervised", "supervised (all labels)")]
SHIPPED = [("vicreg", "vicreg"), ("random-w48", "random init")]
pct = lambda v: f"{100 * v:.2f}"


def table(rows, title):
    print(f"\n{title}\n")
    print("| method | family | width (params) | linear probe fp32 | linear probe int8 | kNN-20 fp32 | kNN-20 int8 | int8/fp32 cosine | steps (epochs) | training time | int8 size |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for key, label in rows:
        r = res["runs"].get(key)
        if not r:
            continue
        f, q = r["metrics"]["fp32"], r["metrics"]["int8"]
        name = f"**{label}** (default)" if key == res["default"] else label
        t = f"{r['train_seconds'] / 60:.1f} min" if r["train_seconds"] else "0"
        c = r["config"]
        print(f"| {name} | {r['family']} | {c['width']} ({c['params'] / 1000:.0f}k) | {pct(f['linearProbe'])} | {pct(q['linearProbe'])} | "
              f"{pct(f['knn20'])} | {pct(q['knn20'])} | {r['int8_fp32_cosine_70k']:.5f} | {r['steps']} ({r['epochs']}) | {t} | "
              f"{r['bytes']['int8'] / 1024:.0f} KiB |")


table(EQUAL_BUDGET, "Equal budget (8 min of training each, width 32):")
table(SHIPPED, "Shipped default and the random-init CNN of the same architecture:")
