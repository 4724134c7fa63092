"""The bundle as internal/model.Parse checks it, and the parity vectors' edge rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from fraudtrain import export, models
from fraudtrain.data import FEATURES

SMALL = dict(models.LIGHTGBM_PARAMS, n_estimators=20, num_leaves=7, min_child_samples=20, n_jobs=1)


@pytest.fixture
def booster(synthetic_training_table):
    return models.fit_lightgbm(synthetic_training_table, SMALL).booster_


def test_bundle_metadata(tmp_path, booster):
    when = dt.datetime(2026, 11, 26, 18, 0, 5, 123, tzinfo=dt.UTC)
    meta = export.export_bundle(
        booster,
        tmp_path,
        threshold=0.25,
        table_sha256="ab" * 32,
        data_seed=7,
        metrics={"auc_roc": 0.9, "undefined": float("nan")},
        params={"n": 1},
        trained_at=when,
    )
    on_disk = json.loads((tmp_path / "metadata.json").read_text())
    assert on_disk == meta
    want_keys = {"name", "version", "feature_names", "threshold", "model_sha256", "table_sha256", "data_seed"}
    assert set(meta) == want_keys | {"trained_at", "metrics", "params"}
    sha = hashlib.sha256((tmp_path / "model.txt").read_bytes()).hexdigest()
    assert meta["model_sha256"] == sha
    assert meta["version"] == "local-" + sha[:12]
    assert meta["name"] == "fraud-detector"
    assert meta["feature_names"] == list(FEATURES)
    assert meta["trained_at"] == "2026-11-26T18:00:05Z"
    assert meta["metrics"] == {"auc_roc": 0.9}  # NaN is not JSON
    assert meta["data_seed"] == 7


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.5, float("nan")])
def test_bundle_refuses_thresholds_outside_0_1(tmp_path, booster, threshold):
    with pytest.raises(ValueError):
        export.export_bundle(
            booster, tmp_path, threshold=threshold, table_sha256="", data_seed=0, metrics={}, params={}
        )


def test_split_thresholds_parse_the_dump(tmp_path, booster):
    booster.save_model(str(tmp_path / "m.txt"))
    splits = export.split_thresholds((tmp_path / "m.txt").read_text())
    trees = booster.trees_to_dataframe()
    want = trees[trees.split_feature.notna()]
    assert len(splits) == len(want)
    assert {FEATURES[f] for f, _ in splits} == set(want.split_feature)


def test_parity_rows(tmp_path, booster, synthetic_training_table):
    path = tmp_path / "model.txt"
    booster.save_model(str(path))
    rows = export.parity_rows(path, synthetic_training_table, n=500)
    assert list(rows.columns) == [*FEATURES, "probability"]
    assert len(rows) > 500  # the real rows plus the edge rows
    x = rows.loc[:, list(FEATURES)].to_numpy()
    assert (x == 0).all(axis=1).any(), "an all-zero row"
    on_threshold = {(f, t) for f, t in export.split_thresholds(path.read_text())}
    assert any(x[i, f] == t for i in range(500, len(x)) for f, t in on_threshold)
    np.testing.assert_array_equal(rows["probability"].to_numpy(), booster.predict(x))

    csv = tmp_path / "parity.csv"
    export.write_parity_csv(rows, csv)
    back = pd.read_csv(csv)
    np.testing.assert_array_equal(back.to_numpy(), rows.to_numpy())  # bit-exact round trip


def test_metric_vectors(synthetic_training_table):
    test = synthetic_training_table.head(800)
    scores = np.linspace(0, 1, len(test))
    v = export.metric_vectors(scores, test)
    vectors = {"scores", "labels", "customer_ids", "days"}
    assert set(v) == vectors | {"auc_roc", "average_precision", "card_precision_at_100"}
    assert len(v["scores"]) == len(v["labels"]) == len(v["customer_ids"]) == len(v["days"]) == 800
    assert set(v["labels"]) <= {0, 1}
    assert 0 < v["auc_roc"] < 1


def test_training_is_reproducible(synthetic_training_table):
    """`make train` from the same seeds must give the same model.txt (hence the same version)."""
    a = models.fit_lightgbm(synthetic_training_table, dict(SMALL, n_jobs=2)).booster_.model_to_string()
    b = models.fit_lightgbm(synthetic_training_table, dict(SMALL, n_jobs=2)).booster_.model_to_string()
    assert a == b


def test_contributions_sum_to_the_raw_score(tmp_path, booster, synthetic_training_table):
    from fraudtrain import contrib

    model = tmp_path / "m.txt"
    booster.save_model(str(model))
    rows = synthetic_training_table.loc[:, list(FEATURES)].head(200)
    parity = tmp_path / "parity.csv"
    export.write_parity_csv(rows.assign(probability=0.0), parity)
    out = tmp_path / "contrib.csv"
    assert contrib.write_contributions(model, parity, out) == len(rows)
    got = pd.read_csv(out)
    assert list(got.columns) == [*FEATURES, contrib.EXPECTED]
    raw = booster.predict(rows.to_numpy(), raw_score=True)
    np.testing.assert_allclose(got.sum(axis=1).to_numpy(), raw, atol=1e-9)


def test_drift_reference_bins_as_go_does(booster, synthetic_training_table):
    from fraudtrain import drift

    ref = drift.reference(booster, synthetic_training_table, "test rows")
    assert ref["rows"] == len(synthetic_training_table) and len(ref["features"]) == len(FEATURES)
    for h in [*ref["features"], ref["score"]]:
        edges, fractions = h["edges"], h["fractions"]
        assert edges == sorted(set(edges)) and len(fractions) == len(edges) + 1
        assert abs(sum(fractions) - 1) < 1e-9
    # Upper bounds are inclusive (edges[i-1] < x <= edges[i]), as internal/drift bins.
    x = np.array([1.0, 1.0, 2.0, 3.0, 3.0, 3.0, 4.0, 5.0, 6.0, 7.0] * 3)
    h = drift.histogram(x)
    lower = [-np.inf, *h["edges"]]
    upper = [*h["edges"], np.inf]
    want = [float(np.mean((x > lo) & (x <= hi))) for lo, hi in zip(lower, upper, strict=True)]
    assert h["fractions"] == pytest.approx(want)
    assert drift.histogram(np.full(50, 2.5)) == {"edges": [2.5], "fractions": [1.0, 0.0]}


def test_bundle_stores_the_drift_reference(tmp_path, booster, synthetic_training_table):
    from fraudtrain import drift

    ref = drift.reference(booster, synthetic_training_table, "test rows")
    meta = export.export_bundle(
        booster, tmp_path, threshold=0.5, table_sha256="", data_seed=0, metrics={}, params={}, drift=ref
    )
    assert json.loads((tmp_path / "metadata.json").read_text())["drift"] == meta["drift"] == ref
