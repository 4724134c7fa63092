"""The pipeline against a real MLflow server: each step as its own command, end to end on a
small simulated window; then a worse run that is registered but not promoted."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import lightgbm as lgb
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from fraudtrain.data import FEATURES, load_table
from fraudtrain.tables import REPO
from pipeline import steps

from .conftest import SEED, SMALL_WORLD

TRAINING = Path(__file__).resolve().parents[2]


def run_step(step: str, workdir: Path, uri: str, *args: str) -> dict:
    """Runs one step as the DAG does: its own process, talking to MLflow through the env."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(TRAINING)}
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", step, "--workdir", str(workdir), *args],
        cwd=TRAINING, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, f"{step} failed:\n{out.stdout}\n{out.stderr}"
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def first_run(mlflow_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five steps, one command each, on SMALL_WORLD."""
    w = tmp_path_factory.mktemp("first")
    world = ["--seed", str(SEED), "--customers", str(SMALL_WORLD.customers),
             "--terminals", str(SMALL_WORLD.terminals), "--days", str(SMALL_WORLD.days)]  # fmt: skip
    for step in ("table", "train", "log", "register", "promote"):
        run_step(step, w, mlflow_uri, *(world if step == "table" else ()))
    return w


def test_first_run_registers_and_promotes(first_run: Path, mlflow_uri: str) -> None:
    mlflow.set_tracking_uri(mlflow_uri)
    client = MlflowClient()
    ev = json.loads((first_run / steps.EVALUATION).read_text())
    version = json.loads((first_run / steps.VERSION).read_text())["version"]
    run_id = json.loads((first_run / steps.RUN).read_text())["run_id"]

    run = client.get_run(run_id)
    for k in ("auc_roc", "average_precision", "card_precision_at_100"):
        assert run.data.metrics[k] == pytest.approx(ev["metrics"][k]), k
    assert run.data.metrics["auc_roc"] > 0.6, "the model should beat chance on its test week"
    table_sha = json.loads((first_run / steps.TABLE_INFO).read_text())["sha256"]
    assert run.data.tags["table_sha256"] == table_sha
    # The configuration model selection chose is what was trained and logged.
    chosen = ev["selection"]["chosen"]["params"]
    assert chosen.items() <= ev["params"].items()
    assert run.data.params["lgbm_num_leaves"] == str(ev["params"]["num_leaves"])
    assert run.data.params["data_seed"] == str(SEED)
    artifacts = {a.path for a in client.list_artifacts(run_id, steps.BUNDLE)}
    assert artifacts == {"bundle/model.txt", "bundle/metadata.json"}

    mv = client.get_model_version(steps.MODEL_NAME, version)
    assert mv.run_id == run_id and mv.tags["table_sha256"] == table_sha
    assert mv.tags["promotion"] == "promoted: no champion yet"
    assert client.get_model_version_by_alias(steps.MODEL_NAME, steps.CHAMPION).version == version

    # The LightGBM flavour: the logged model loads through MLflow and predicts as the bundle does.
    logged = client.search_logged_models(experiment_ids=[run.info.experiment_id],
                                         filter_string=f"source_run_id = '{run_id}'")  # fmt: skip
    assert len(logged) == 1
    flavour = mlflow.lightgbm.load_model(f"models:/{logged[0].model_id}")
    rows = load_table(first_run / steps.TABLE).head(500).loc[:, list(FEATURES)].to_numpy(dtype=np.float64)
    bundle = lgb.Booster(model_file=str(first_run / steps.BUNDLE / "model.txt"))
    np.testing.assert_array_equal(flavour.predict(rows), bundle.predict(rows))


def test_go_loader_reproduces_metrics_from_registry(first_run: Path, mlflow_uri: str, tmp_path: Path) -> None:
    """The champion's artifacts, downloaded from the registry, load in Go (checksum checked) and
    score the same test week to the same metrics Python logged."""
    mlflow.set_tracking_uri(mlflow_uri)
    champ = MlflowClient().get_model_version_by_alias(steps.MODEL_NAME, steps.CHAMPION)
    bundle = Path(mlflow.artifacts.download_artifacts(artifact_uri=champ.source, dst_path=str(tmp_path)))
    ev = json.loads((first_run / steps.EVALUATION).read_text())
    out = subprocess.run(
        ["go", "run", "./training/evaluate", "-seed", str(SEED), "-customers", str(SMALL_WORLD.customers),
         "-terminals", str(SMALL_WORLD.terminals), "-train-start", str(ev["window"]["train_start"]),
         "-model", str(bundle)],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    got = json.loads(out.stdout)
    for k in ("auc_roc", "average_precision", "card_precision_at_100"):
        assert got[k] == pytest.approx(ev["metrics"][k], abs=1e-9), k


def test_worse_run_is_registered_not_promoted(first_run: Path, mlflow_uri: str, tmp_path: Path) -> None:
    for name in (steps.TABLE, steps.TABLE_INFO):
        shutil.copy(first_run / name, tmp_path / name)
    champion_before = json.loads((first_run / steps.VERSION).read_text())["version"]
    stump = json.dumps({"n_estimators": 1, "num_leaves": 2})
    run_step("train", tmp_path, mlflow_uri, "--params", stump)
    run_step("log", tmp_path, mlflow_uri)
    version = run_step("register", tmp_path, mlflow_uri)["version"]
    result = run_step("promote", tmp_path, mlflow_uri)

    assert version != champion_before
    assert result["promoted"] is False
    assert result["champion"]["version"] == champion_before
    assert result["metrics"]["average_precision"] < result["champion"]["metrics"]["average_precision"]
    mlflow.set_tracking_uri(mlflow_uri)
    client = MlflowClient()
    assert client.get_model_version_by_alias(steps.MODEL_NAME, steps.CHAMPION).version == champion_before
    reason = client.get_model_version(steps.MODEL_NAME, version).tags["promotion"]
    assert reason.startswith(f"not promoted: average_precision {result['metrics']['average_precision']:.4f} <= ")
    assert f"champion v{champion_before}" in reason
