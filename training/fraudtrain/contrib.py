"""The Go TreeSHAP parity vectors: LightGBM's own pred_contrib for the rows of the parity CSV.

`python -m fraudtrain.contrib --model M --rows parity.csv --out contrib.csv` writes one row per
parity row: one contribution per input (20) and the expected value, in raw (log-odds) units. `make train`
writes it with every new model; this entry point regenerates it for a committed model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from .data import FEATURES

EXPECTED = "expected_value"


def contributions(model_path: Path, x: np.ndarray) -> pd.DataFrame:
    """LightGBM's TreeSHAP of each row of x: one column per feature plus the expected value."""
    booster = lgb.Booster(model_file=str(model_path))
    contrib = booster.predict(x, pred_contrib=True)
    if contrib.shape != (len(x), len(FEATURES) + 1):
        raise ValueError(f"pred_contrib shape {contrib.shape}, want ({len(x)}, {len(FEATURES) + 1})")
    return pd.DataFrame(contrib, columns=[*FEATURES, EXPECTED])


def write_contributions(model_path: Path, parity_csv: Path, out: Path) -> int:
    """Reads the feature columns of parity_csv and writes their contributions to out."""
    from .export import write_parity_csv

    x = pd.read_csv(parity_csv).loc[:, list(FEATURES)].to_numpy(dtype=np.float64)
    write_parity_csv(contributions(model_path, x), out)
    return len(x)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fraudtrain.contrib", description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, required=True, help="model.txt")
    p.add_argument("--rows", type=Path, required=True, help="parity CSV whose feature columns are explained")
    p.add_argument("--out", type=Path, required=True, help="output CSV")
    a = p.parse_args(sys.argv[1:] if argv is None else argv)
    n = write_contributions(a.model, a.rows, a.out)
    print(f"{a.out}: {n} rows", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
