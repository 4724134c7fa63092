"""The handbook's three metrics (§4): AUC ROC and average precision from scikit-learn, and Card
Precision@k as the handbook's card_precision_top_k computes it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score


def card_precision_at_k(
    scores: Sequence[float] | np.ndarray,
    labels: Sequence[int] | np.ndarray,
    customers: Sequence[int] | np.ndarray,
    days: Sequence[int] | np.ndarray,
    k: int = 100,
) -> float:
    """Card Precision@k (§4.4, remove_detected_compromised_cards=True).

    For each day in order: drop the cards detected on earlier days, take each remaining card's
    highest score and label of the day, rank the cards by score, and count the compromised cards
    among the top k, divided by k. The result is the mean over days. Equal scores rank by
    ascending customer id (a stable sort after grouping), which is also the Go implementation's
    tie rule; the handbook leaves ties to pandas' unstable default sort.
    """
    df = pd.DataFrame(
        {
            "score": np.asarray(scores, dtype=np.float64),
            "fraud": np.asarray(labels, dtype=np.int64),
            "customer": np.asarray(customers, dtype=np.int64),
            "day": np.asarray(days, dtype=np.int64),
        }
    )
    if df.empty:
        return float("nan")
    detected: set[int] = set()
    per_day = []
    for _, day in df.groupby("day", sort=True):
        day = day[~day["customer"].isin(detected)]
        cards = day.groupby("customer", sort=True)[["score", "fraud"]].max()
        top = cards.sort_values("score", ascending=False, kind="stable").head(k)
        hits = top.index[top["fraud"] == 1]
        detected.update(int(c) for c in hits)
        per_day.append(len(hits) / k)
    return float(np.mean(per_day))


def assess(scores: np.ndarray, test: pd.DataFrame, k: int = 100) -> dict[str, float]:
    """AUC ROC, average precision and CP@k of scores for the rows of test (a protocol test set)."""
    y = test["tx_fraud"].to_numpy()
    return {
        "auc_roc": float(roc_auc_score(y, scores)),
        "average_precision": float(average_precision_score(y, scores)),
        f"card_precision_at_{k}": card_precision_at_k(
            scores, y, test["customer_id"].to_numpy(), test["tx_time_days"].to_numpy(), k
        ),
    }


def max_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The decision threshold (predict fraud when score ≥ t) with the highest F1 on these scores,
    and that F1. Ties go to the higher threshold (fewer alerts)."""
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    p, r = precision[:-1], recall[:-1]  # the last point has no threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    best = np.flatnonzero(f1 == f1.max())[-1]
    return float(thresholds[best]), float(f1[best])
