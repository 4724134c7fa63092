"""The drift reference stored with a model: the training window's feature and score distributions
in bins, which the function's rolling histograms use (internal/drift reads metadata.json "drift").

Bins are quantiles of the training rows (deciles plus the 95th and 99th percentiles, duplicates
dropped); x falls in bin i when edges[i-1] < x <= edges[i] (numpy's searchsorted side="left",
as Go's sort.SearchFloat64s). `python -m fraudtrain.drift --bundle DIR` adds the reference to a
committed bundle by rebuilding its training tables with the Go command (checked against the
hashes in its metadata) instead of retraining.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from .data import DAY, FEATURES, load_table, sha256_file

QUANTILES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def histogram(x: np.ndarray) -> dict[str, list[float]]:
    """Quantile bins of x and the share of x in each."""
    x = np.asarray(x, dtype=np.float64)
    edges = np.unique(np.quantile(x, QUANTILES))
    counts = np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1)
    return {"edges": [float(e) for e in edges], "fractions": [float(c) for c in counts / len(x)]}


def reference(booster: lgb.Booster, rows: pd.DataFrame, window: str) -> dict[str, Any]:
    """The reference of the rows a model was trained on: each input's histogram, in model order,
    and the histogram of the model's fraud probability on them."""
    x = rows.loc[:, list(FEATURES)].to_numpy(dtype=np.float64)
    return {
        "window": window,
        "rows": len(x),
        "features": [histogram(x[:, i]) for i in range(len(FEATURES))],
        "score": histogram(booster.predict(x)),
    }


def add_to_bundle(bundle: Path, work: Path) -> dict[str, Any]:
    """Rebuilds the bundle's training rows from its metadata (seeds, world, days; each table's
    sha256 must match) and writes the reference into its metadata.json."""
    from . import tables

    meta_path = bundle / "metadata.json"
    meta = json.loads(meta_path.read_text())
    p = meta["params"]
    world = tables.World(**p["world"])
    exe = tables.build_table_command(work)
    first, last = p["training_days"]
    parts = []
    for seed in p["training_seeds"]:
        path = tables.write_table(exe, seed, world, work / f"table-{seed}.csv")
        if sha256_file(path) != p["training_table_sha256"][str(seed)]:
            raise SystemExit(f"seed {seed}: the rebuilt table's sha256 is not the one the model was trained on")
        t = load_table(path)
        parts.append(t[(t[DAY] >= first) & (t[DAY] <= last)])
    rows = pd.concat(parts, ignore_index=True)
    seeds = ",".join(map(str, p["training_seeds"]))
    booster = lgb.Booster(model_file=str(bundle / "model.txt"))
    meta["drift"] = reference(booster, rows, f"training rows: seeds {seeds}, days {first}..{last}")
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n")
    return meta["drift"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fraudtrain.drift", description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", type=Path, required=True, help="model bundle directory (metadata.json is updated)")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="fraudtrain-drift-") as d:
        ref = add_to_bundle(a.bundle, Path(d))
    print(f"{a.bundle}: drift reference of {ref['rows']} rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
