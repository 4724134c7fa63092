"""Card Precision@k by hand and against a literal port of the handbook's function; the threshold
rule by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fraudtrain.metrics import assess, card_precision_at_k, max_f1_threshold


def handbook_card_precision_top_k(predictions_df: pd.DataFrame, top_k: int) -> float:
    """The handbook's card_precision_top_k (§4.4, shared functions), transcribed step by step."""
    list_days = sorted(predictions_df["TX_TIME_DAYS"].unique())
    detected: list[int] = []
    per_day = []
    for day in list_days:
        df_day = predictions_df[predictions_df["TX_TIME_DAYS"] == day][["predictions", "CUSTOMER_ID", "TX_FRAUD"]]
        df_day = df_day[~df_day.CUSTOMER_ID.isin(detected)]
        df_day = df_day.groupby("CUSTOMER_ID").max().sort_values(by="predictions", ascending=False).reset_index()
        top = df_day.head(top_k)
        found = list(top[top.TX_FRAUD == 1].CUSTOMER_ID)
        per_day.append(len(found) / top_k)
        detected.extend(found)
    return float(np.mean(per_day))


# (score, fraud, customer, day) rows.
CASES = {
    "one day, top 2 holds one fraud": ([(0.9, 1, 1, 0), (0.8, 0, 2, 0), (0.1, 1, 3, 0)], 2, 0.5),
    "card takes its highest score and any fraud of the day": (
        [(0.1, 1, 1, 0), (0.95, 0, 1, 0), (0.9, 0, 2, 0), (0.2, 1, 3, 0)],
        1,
        1.0,
    ),
    "detected card leaves later days": (
        # day 0: card 1 detected (1/2). day 1: card 1 gone, so 2 and 3 are the top 2: one fraud.
        [(0.9, 1, 1, 0), (0.5, 0, 2, 0), (0.99, 1, 1, 1), (0.8, 1, 2, 1), (0.7, 0, 3, 1)],
        2,
        (0.5 + 0.5) / 2,
    ),
    "undetected fraud card stays": (
        # day 0: card 3 (fraud) is below the top 1, so day 1 still counts it.
        [(0.9, 0, 1, 0), (0.1, 1, 3, 0), (0.2, 0, 1, 1), (0.8, 1, 3, 1)],
        1,
        (0 + 1) / 2,
    ),
    "fewer cards than k still divide by k": ([(0.9, 1, 1, 0), (0.8, 1, 2, 0)], 100, 0.02),
    "ties rank by customer id": ([(0.5, 0, 1, 0), (0.5, 1, 2, 0), (0.5, 1, 3, 0)], 2, 0.5),
}


@pytest.mark.parametrize("rows,k,want", CASES.values(), ids=CASES.keys())
def test_card_precision_by_hand(rows, k, want):
    s, y, c, d = zip(*rows, strict=True)
    assert card_precision_at_k(s, y, c, d, k) == pytest.approx(want, abs=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_card_precision_matches_handbook_code(seed):
    rng = np.random.default_rng(seed)
    n = 20_000
    df = pd.DataFrame(
        {
            "predictions": rng.random(n),  # continuous: no ties, so the handbook's sort is deterministic
            "CUSTOMER_ID": rng.integers(0, 2000, n),
            "TX_TIME_DAYS": rng.integers(100, 107, n),
            "TX_FRAUD": (rng.random(n) < 0.05).astype(int),
        }
    )
    want = handbook_card_precision_top_k(df, 100)
    got = card_precision_at_k(df.predictions, df.TX_FRAUD, df.CUSTOMER_ID, df.TX_TIME_DAYS, 100)
    assert got == want
    assert 0 < got < 1


def test_assess_names_and_ranges():
    rng = np.random.default_rng(3)
    n = 5000
    test = pd.DataFrame(
        {
            "tx_fraud": (rng.random(n) < 0.1).astype(int),
            "customer_id": rng.integers(0, 500, n),
            "tx_time_days": rng.integers(0, 7, n),
        }
    )
    perfect = assess(test.tx_fraud.to_numpy(dtype=float), test)
    assert perfect["auc_roc"] == 1.0
    assert perfect["average_precision"] == 1.0
    assert set(perfect) == {"auc_roc", "average_precision", "card_precision_at_100"}
    noise = assess(rng.random(n), test)
    assert 0.4 < noise["auc_roc"] < 0.6


THRESHOLDS = {
    "separable: the lowest fraud score": ([0.1, 0.2, 0.7, 0.9], [0, 0, 1, 1], 0.7, 1.0),
    # At 0.6: P=2/3, R=1 → F1 0.8; at 0.9: P=1, R=1/2 → 0.667; at 0.3: P=1/2, R=1 → 0.667.
    "one false positive above a fraud": ([0.3, 0.6, 0.8, 0.9], [0, 1, 0, 1], 0.6, 0.8),
}


@pytest.mark.parametrize("scores,labels,want_t,want_f1", THRESHOLDS.values(), ids=THRESHOLDS.keys())
def test_max_f1_threshold(scores, labels, want_t, want_f1):
    t, f1 = max_f1_threshold(np.array(scores), np.array(labels))
    assert t == want_t
    assert f1 == pytest.approx(want_f1)
