"""End to end on a small world with the real Go code: the Go table command writes the tables,
`python -m fraudtrain.train` fits and exports, then the Go loader must accept the bundle and score
like LightGBM (training/modelcheck), and the Go evaluate command must report the same metrics as
Python for the unseen seed."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from fraudtrain import train
from fraudtrain.data import FEATURES
from fraudtrain.tables import REPO

WORLD = ["--customers", "500", "--terminals", "1000", "--days", "70"]
TRAIN_START = 42  # validation trains from day 28, the test week is days 56..62
EVAL_SEED = 13


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    assert shutil.which("go"), "the smoke test needs the Go toolchain (the table command is Go)"
    out = tmp_path_factory.mktemp("smoke")
    argv = [
        *WORLD,
        "--train-start", str(TRAIN_START),
        "--train-from", "35",
        "--seeds", "11",
        "--validation-seed", "12",
        "--eval-seeds", str(EVAL_SEED),
        "--lightgbm", json.dumps({"n_estimators": 40}),
        "--work", str(out / "work"),
        "--bundle", str(out / "bundle"),
        "--parity", str(out / "parity.csv"),
        "--parity-rows", "3000",
        "--metric-vectors", str(out / "metrics.json"),
        "--metric-vectors-modulo", "1",
        "--report", str(out / "report.json"),
    ]  # fmt: skip
    assert train.main(argv) == 0
    return out


def go(*args: str) -> str:
    done = subprocess.run(["go", "run", *args], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_go_loads_the_bundle_and_scores_like_lightgbm(trained):
    meta = json.loads((trained / "bundle" / "metadata.json").read_text())
    bundle, rows = str(trained / "bundle"), str(trained / "parity.csv")
    got = json.loads(go("./training/modelcheck", "-model", bundle, "-rows", rows))
    assert got["version"] == meta["version"]
    assert got["trees"] == 40
    assert got["threshold"] == meta["threshold"]
    assert got["rows"] > 3000  # real rows plus edge rows
    assert got["max_abs_diff"] <= 1e-6


def test_go_evaluate_agrees_with_python(trained):
    report = json.loads((trained / "report.json").read_text())
    shipped = next(r for r in report["results"] if r["family"] == "lightgbm" and "unseen_per_seed" in r)
    want = shipped["unseen_per_seed"][str(EVAL_SEED)]
    args = ["-model", str(trained / "bundle"), "-seed", str(EVAL_SEED), *WORLD[:4], "-train-start", str(TRAIN_START)]
    got = json.loads(go("./training/evaluate", *args))
    for k in ("auc_roc", "average_precision", "card_precision_at_100"):
        assert got[k] == pytest.approx(want[k], abs=1e-9), k


def test_report_compares_three_families_on_both_datasets(trained):
    report = json.loads((trained / "report.json").read_text())
    pairs = {(r["data"].split(" ")[0], r["family"]) for r in report["results"]}
    assert pairs == {(d, f) for d in ("handbook", "extended") for f in train.models.FAMILIES}
    meta = report["metadata"]
    assert meta["feature_names"] == list(FEATURES)
    assert 0 < meta["threshold"] < 1
    assert meta["params"]["training_seeds"] == [11]
    vectors = json.loads((trained / "metrics.json").read_text())
    assert len(vectors["scores"]) == len(vectors["days"]) > 1000
