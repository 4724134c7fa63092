"""Writes what the Go side reads: the model bundle (LightGBM's text dump plus metadata.json, as
internal/model.Parse checks it) and the test vectors of the Go parity and metric tests."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from .data import CUSTOMER, DAY, FEATURES, LABEL
from .metrics import card_precision_at_k

MODEL_FILE = "model.txt"
METADATA_FILE = "metadata.json"
MODEL_NAME = "fraud-detector"


def export_bundle(
    booster: lgb.Booster,
    out_dir: Path,
    *,
    threshold: float,
    table_sha256: str,
    data_seed: int,
    metrics: dict[str, float],
    params: dict[str, Any],
    trained_at: dt.datetime | None = None,
    drift: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Saves model.txt (Booster.save_model) and metadata.json into out_dir; returns the metadata.
    drift is the training window's reference (fraudtrain.drift.reference), stored as "drift"."""
    if booster.feature_name() != list(FEATURES):
        raise ValueError(f"model inputs {booster.feature_name()} are not the model inputs (data.FEATURES) in order")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold {threshold} outside (0, 1)")
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILE
    booster.save_model(str(model_path))
    sha = hashlib.sha256(model_path.read_bytes()).hexdigest()
    when = (trained_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    meta: dict[str, Any] = {
        "name": MODEL_NAME,
        "version": f"local-{sha[:12]}",
        "feature_names": list(FEATURES),
        "threshold": float(threshold),
        "model_sha256": sha,
        "table_sha256": table_sha256,
        "data_seed": int(data_seed),
        "trained_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "metrics": {k: float(v) for k, v in metrics.items() if math.isfinite(v)},
        "params": params,
    }
    if drift is not None:
        meta["drift"] = drift
    (out_dir / METADATA_FILE).write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n")
    return meta


def split_thresholds(model_txt: str) -> list[tuple[int, float]]:
    """(feature, threshold) of every numerical split in a LightGBM text dump, as Go reads them."""
    out: list[tuple[int, float]] = []
    feats: list[int] = []
    for line in model_txt.splitlines():
        if line.startswith("split_feature="):
            feats = [int(x) for x in line.split("=", 1)[1].split()]
        elif line.startswith("threshold="):
            out.extend(zip(feats, (float(x) for x in line.split("=", 1)[1].split()), strict=True))
    return out


def parity_rows(model_path: Path, rows: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """n real feature rows (a tenth of them frauds, when there are enough) plus edge rows — all
    zeros, and real rows with one feature set exactly on a split threshold of the model or one ulp
    either side — each with the probability LightGBM's own predict() gives from model.txt."""
    rng = np.random.default_rng(seed)
    frauds = rows[rows[LABEL] == 1]
    nf = min(len(frauds), n // 10)
    picked = pd.concat([frauds.sample(nf, random_state=seed), rows[rows[LABEL] == 0].sample(n - nf, random_state=seed)])
    x = picked.loc[:, list(FEATURES)].to_numpy(dtype=np.float64)
    splits = split_thresholds(model_path.read_text())
    edges = [np.zeros(len(FEATURES))]
    for i in rng.choice(len(splits), size=min(len(splits), 200), replace=False):
        f, t = splits[i]
        for v in (t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf)):
            row = x[rng.integers(len(x))].copy()
            row[f] = v
            edges.append(row)
    x = np.vstack([x, np.array(edges)])
    booster = lgb.Booster(model_file=str(model_path))
    out = pd.DataFrame(x, columns=list(FEATURES))
    out["probability"] = booster.predict(x)
    return out


def write_parity_csv(df: pd.DataFrame, path: Path) -> None:
    """Writes every float with repr, the shortest text that reads back to the same double."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(df.columns) + "\n")
        for row in df.itertuples(index=False):
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def metric_vectors(scores: np.ndarray, test: pd.DataFrame) -> dict[str, Any]:
    """The Go metric test's vectors: scores, labels, customers, days of a protocol test set, and
    the three metrics as scikit-learn and our CP@100 compute them."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = test[LABEL].to_numpy(dtype=np.int64)
    customers = test[CUSTOMER].to_numpy(dtype=np.int64)
    days = test[DAY].to_numpy(dtype=np.int64)
    return {
        "scores": [float(s) for s in scores],
        "labels": [int(v) for v in y],
        "customer_ids": [int(c) for c in customers],
        "days": [int(d) for d in days],
        "auc_roc": float(roc_auc_score(y, scores)),
        "average_precision": float(average_precision_score(y, scores)),
        "card_precision_at_100": card_precision_at_k(scores, y, customers, days, 100),
    }


def write_json(obj: Any, path: Path) -> None:
    """Compact JSON (json writes floats with repr, so they read back exactly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, separators=(",", ":")) + "\n")
