"""Issue 16's input prototype: does the model gain from inputs beyond the handbook's 15?

A measurement, not a second implementation: if the inputs are adopted they belong in
internal/features (Go), which writes the table for training and serves them online. Here they are
computed in pandas from the table the Go command writes, to see what they are worth first.

    go build -o /tmp/table ./training/table
    for s in 1 2; do /tmp/table -seed $s -days 183 -out /tmp/t$s.csv; done
    for s in 101 102 103 104 105; do /tmp/table -seed $s -days 136 -out /tmp/t$s.csv; done
    cd training && $VENV/bin/python proposals/inputs_prototype.py /tmp [base ratio run ratio+run]

Training: seeds 1, 2, days 100-182, the built-in model's configuration (100 trees x 15 leaves);
"base" reproduces the built-in model's figures exactly. Scored on the handbook test week of seeds
101-105 as `go run ./training/evaluate` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fraudtrain import metrics, protocol  # noqa: E402
from fraudtrain.data import FEATURES  # noqa: E402

DAY = 86400
PARAMS = dict(
    objective="binary", n_estimators=100, num_leaves=15, learning_rate=0.1, min_child_samples=100,
    subsample=0.8, subsample_freq=1, colsample_bytree=0.8, reg_lambda=1.0, random_state=0, verbose=-1,
)


def add_inputs(df: pd.DataFrame) -> pd.DataFrame:
    """RATIO_{1,7,30}D: the amount over the customer's average (which includes it).
    RUN_AGE, RUN_LEN: at the terminal's newest transaction whose label is known (7 days old or
    more), the run of consecutive frauds it ends: days since the run's first transaction and its
    length (-1 and 0 when that transaction is genuine or there is none)."""
    df = df.copy()
    for w in (1, 7, 30):
        df[f"RATIO_{w}D"] = df.TX_AMOUNT / df[f"CUSTOMER_ID_AVG_AMOUNT_{w}DAY_WINDOW"].clip(lower=0.01)
    secs = (pd.to_datetime(df.tx_datetime) - pd.Timestamp("2018-04-01")).dt.total_seconds()
    ts, term, fraud = secs.to_numpy(np.int64), df.terminal_id.to_numpy(np.int64), df.tx_fraud.to_numpy()
    order = np.lexsort((ts, term))
    t, k, f = ts[order], term[order], fraud[order]
    start, length = np.full(len(t), -1, np.int64), np.zeros(len(t), np.int64)
    for i in range(len(t)):
        if f[i]:
            cont = i > 0 and k[i - 1] == k[i] and f[i - 1]
            start[i], length[i] = (start[i - 1], length[i - 1] + 1) if cont else (t[i], 1)
    key = k * 10**9 + t
    j = np.searchsorted(key, key - 7 * DAY, side="right") - 1
    jj = np.clip(j, 0, None)
    known = (j >= 0) & (k[jj] == k) & (f[jj] == 1)
    age, run = np.empty(len(t)), np.empty(len(t))
    age[order] = np.where(known, (t - start[jj]) / DAY, -1.0)
    run[order] = np.where(known, length[jj], 0)
    df["RUN_AGE"], df["RUN_LEN"] = age, run
    return df


SETS = {
    "base": [],
    "ratio": ["RATIO_1D", "RATIO_7D", "RATIO_30D"],
    "run": ["RUN_AGE", "RUN_LEN"],
    "ratio+run": ["RATIO_1D", "RATIO_7D", "RATIO_30D", "RUN_AGE", "RUN_LEN"],
}


def main(argv: list[str]) -> None:
    tables = Path(argv[0])
    train = pd.concat([add_inputs(pd.read_csv(tables / f"t{s}.csv")) for s in (1, 2)])
    train = train[train.tx_time_days >= 100]
    tests = {s: protocol.test_rows(add_inputs(pd.read_csv(tables / f"t{s}.csv")), protocol.HANDBOOK) for s in range(101, 106)}
    for name in argv[1:] or SETS:
        cols = list(FEATURES) + SETS[name]
        clf = lgb.LGBMClassifier(**PARAMS).fit(train[cols].to_numpy(), train.tx_fraud.to_numpy())
        per = [metrics.assess(clf.predict_proba(t[cols].to_numpy())[:, 1], t) for t in tests.values()]
        mean = np.mean([list(m.values()) for m in per], axis=0)
        seeds = " ".join("%.3f/%.3f/%.3f" % tuple(m.values()) for m in per)
        print(f"{name}: mean {mean[0]:.4f}/{mean[1]:.4f}/{mean[2]:.4f} | {seeds}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
