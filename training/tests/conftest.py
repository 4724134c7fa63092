"""Shared fixtures: small hand-made feature tables in the Go table's format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudtrain.data import COLUMNS, FEATURES


def make_table(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    """A feature table from (customer, day, fraud) triples; features are arbitrary but fixed."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "transaction_id": np.arange(len(rows), dtype=np.int64),
            "customer_id": np.array([r[0] for r in rows], dtype=np.int64),
            "terminal_id": np.zeros(len(rows), dtype=np.int64),
            "tx_time_days": np.array([r[1] for r in rows], dtype=np.int64),
            "tx_fraud": np.array([r[2] for r in rows], dtype=np.int8),
            "tx_fraud_scenario": np.array([r[2] for r in rows], dtype=np.int8),
        }
    )
    for name in FEATURES:
        df[name] = rng.random(len(rows))
    return df


def write_table_csv(df: pd.DataFrame, path) -> None:
    """Writes df as the Go table command does (header COLUMNS, floats shortest round-trip)."""
    df = df.copy()
    df["tx_datetime"] = "2018-04-01 00:00:00"
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(COLUMNS) + "\n")
        for row in df.loc[:, list(COLUMNS)].itertuples(index=False):
            f.write(",".join(repr(v) if isinstance(v, float) else str(v) for v in row) + "\n")


@pytest.fixture
def synthetic_training_table() -> pd.DataFrame:
    """A learnable table: fraud when the amount is high or the terminal is risky, with noise."""
    rng = np.random.default_rng(1)
    n = 6000
    df = make_table([(int(c), int(d), 0) for c, d in zip(rng.integers(0, 300, n), rng.integers(0, 30, n), strict=True)])
    df["TX_AMOUNT"] = rng.gamma(2.0, 40.0, n)
    logit = (df["TX_AMOUNT"] - 150) / 20 + 6 * (df["TERMINAL_ID_RISK_7DAY_WINDOW"] - 0.9)
    df["tx_fraud"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return df
