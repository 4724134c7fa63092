"""The feature table written by `go run ./training/table`: loading and hashing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

FEATURES: tuple[str, ...] = (
    "TX_AMOUNT",
    "TX_DURING_WEEKEND",
    "TX_DURING_NIGHT",
    "CUSTOMER_ID_NB_TX_1DAY_WINDOW",
    "CUSTOMER_ID_AVG_AMOUNT_1DAY_WINDOW",
    "CUSTOMER_ID_NB_TX_7DAY_WINDOW",
    "CUSTOMER_ID_AVG_AMOUNT_7DAY_WINDOW",
    "CUSTOMER_ID_NB_TX_30DAY_WINDOW",
    "CUSTOMER_ID_AVG_AMOUNT_30DAY_WINDOW",
    "TERMINAL_ID_NB_TX_1DAY_WINDOW",
    "TERMINAL_ID_RISK_1DAY_WINDOW",
    "TERMINAL_ID_NB_TX_7DAY_WINDOW",
    "TERMINAL_ID_RISK_7DAY_WINDOW",
    "TERMINAL_ID_NB_TX_30DAY_WINDOW",
    "TERMINAL_ID_RISK_30DAY_WINDOW",
    "CUSTOMER_ID_AMOUNT_RATIO_1DAY_WINDOW",
    "CUSTOMER_ID_AMOUNT_RATIO_7DAY_WINDOW",
    "CUSTOMER_ID_AMOUNT_RATIO_30DAY_WINDOW",
    "TERMINAL_ID_KNOWN_FRAUD_RUN_DAYS",
    "TERMINAL_ID_KNOWN_FRAUD_RUN_LENGTH",
)
"""The 20 model inputs in the order the Go loader requires (internal/features.Names): the
handbook's 15, then the amount ratios and the terminal's known fraud run (issue 16)."""

LABEL = "tx_fraud"
CUSTOMER = "customer_id"
DAY = "tx_time_days"
ID_COLUMNS: tuple[str, ...] = ("transaction_id", "tx_datetime", CUSTOMER, "terminal_id", DAY)
COLUMNS: tuple[str, ...] = (*ID_COLUMNS, *FEATURES, LABEL, "tx_fraud_scenario")


class TableError(ValueError):
    """The file is not a feature table of the expected format."""


def load_table(path: str | Path) -> pd.DataFrame:
    """Reads a feature table. Floats are parsed exactly (pandas ≥ 3 round-trips by default), so
    the values the model sees are the ones Go computed."""
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n").split(",")
    if tuple(header) != COLUMNS:
        raise TableError(f"{path}: header {header!r} is not the feature table's {list(COLUMNS)!r}")
    dtypes: dict[str, str] = {name: "float64" for name in FEATURES}
    dtypes.update({"transaction_id": "int64", CUSTOMER: "int64", "terminal_id": "int64", DAY: "int64"})
    dtypes.update({LABEL: "int8", "tx_fraud_scenario": "int8"})
    df = pd.read_csv(path, dtype=dtypes, usecols=lambda c: c != "tx_datetime")
    if not df[LABEL].isin((0, 1)).all():
        raise TableError(f"{path}: {LABEL} holds values other than 0 and 1")
    return df


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
