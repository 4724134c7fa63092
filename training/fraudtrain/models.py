"""The three model families, fitted on the same rows: LightGBM (the one we ship), and for
comparison a scaled logistic regression and a random forest as in the handbook's §3.4."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from .data import FEATURES, LABEL

LIGHTGBM_PARAMS: dict[str, Any] = {
    "objective": "binary",
    # Go must score >= 1 M rows/s on one core, and its time grows with trees x depth. Measured on
    # seeds 101-103 (AUC / AP / CP@100; Go rows/s on a busy machine, so only the ratio counts):
    # 150 trees x 31 leaves lr 0.05: 0.886/0.709/0.310, ~100k; 100x15 lr 0.1: 0.883/0.704/0.311,
    # ~220k; 50x31: 0.884/0.701/0.310, ~300k; 60x15 (this): 0.881/0.696/0.311, ~500k;
    # 80x7 lr 0.15: 0.881/0.680/0.311. The lead's BenchmarkBatchInference gives 1.38 M rows/s here.
    "n_estimators": 60,
    "num_leaves": 15,
    "learning_rate": 0.1,
    "min_child_samples": 100,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "random_state": 0,
    "deterministic": True,
    "force_row_wise": True,
    "n_jobs": 2,
    "verbose": -1,
}

FAMILIES = ("lightgbm", "logistic_regression", "random_forest")


def fit_lightgbm(train: pd.DataFrame, params: dict[str, Any] | None = None) -> lgb.LGBMClassifier:
    """Fits the LightGBM binary classifier on the model inputs (data.FEATURES; no categorical features)."""
    clf = lgb.LGBMClassifier(**(params or LIGHTGBM_PARAMS))
    clf.fit(_x(train), train[LABEL].to_numpy())
    return clf


def fit_logistic_regression(train: pd.DataFrame) -> Pipeline:
    """The handbook's LogisticRegression(random_state=0) on standardised inputs (§3.4, §5.3)."""
    clf = make_pipeline(StandardScaler(), LogisticRegression(random_state=0, max_iter=1000))
    clf.fit(_x(train), train[LABEL].to_numpy())
    return clf


def fit_random_forest(train: pd.DataFrame) -> RandomForestClassifier:
    """The handbook's best random forest of §5.3 (100 trees, depth 20). On large tables each tree
    sees a bootstrap sample of at most 200,000 rows, which keeps `make train` within minutes."""
    n = len(train)
    clf = RandomForestClassifier(
        n_estimators=100,
        max_depth=20,
        max_samples=min(n, 200_000) if n > 200_000 else None,
        random_state=0,
        n_jobs=2,
    )
    clf.fit(_x(train), train[LABEL].to_numpy())
    return clf


FITTERS: dict[str, Callable[[pd.DataFrame], Any]] = {
    "lightgbm": fit_lightgbm,
    "logistic_regression": fit_logistic_regression,
    "random_forest": fit_random_forest,
}


def predict(clf: Any, rows: pd.DataFrame) -> np.ndarray:
    """Fraud probabilities for rows."""
    return clf.predict_proba(_x(rows))[:, 1]


def _x(rows: pd.DataFrame) -> pd.DataFrame:
    # A frame, not an array, so that LightGBM's dump names the inputs as the Go loader expects.
    return rows.loc[:, list(FEATURES)].astype(np.float64)
