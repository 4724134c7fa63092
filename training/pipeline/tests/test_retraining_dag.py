"""The DAG in a real Airflow (its own venv, FD_AIRFLOW_BIN): it imports with no import errors in
either mode, and `airflow dags test` runs it in local mode against the real MLflow server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from pipeline import steps

from .conftest import SEED, SMALL_WORLD

TRAINING = Path(__file__).resolve().parents[2]
DAGS = TRAINING / "dags"
DAG_ID = "fraud_retraining"


@pytest.fixture(scope="module")
def airflow_bin() -> str:
    path = os.environ.get("FD_AIRFLOW_BIN")
    if not path:
        pytest.fail("FD_AIRFLOW_BIN is not set: run these tests through `make test-retraining`")
    return path


def airflow_env(home: Path, dags: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        **extra,
    }


def airflow(bin_: str, env: dict[str, str], *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([bin_, *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"airflow {' '.join(args)} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out


def import_errors(bin_: str, env: dict[str, str]) -> tuple[list[dict], list[str]]:
    """Parses the DAGs folder into the metadata DB and returns (import errors, dag ids)."""
    airflow(bin_, env, "dags", "reserialize")
    # list-import-errors exits 1 when it lists any: read its answer, not its exit code.
    listed = subprocess.run(
        [bin_, "dags", "list-import-errors", "-o", "json"],
        check=False, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    errors = json.loads(listed.stdout.strip() or "[]")
    dags = json.loads(airflow(bin_, env, "dags", "list", "-o", "json").stdout.strip() or "[]")
    return errors, [d["dag_id"] for d in dags]


@pytest.fixture(scope="module")
def airflow_home(airflow_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("airflow")
    airflow(airflow_bin, airflow_env(home, DAGS), "db", "migrate")
    return home


@pytest.mark.parametrize("mode", ["kubernetes", "local"])
def test_dag_imports_without_errors(airflow_bin: str, airflow_home: Path, mode: str) -> None:
    errors, dags = import_errors(airflow_bin, airflow_env(airflow_home, DAGS, FRAUD_PIPELINE_MODE=mode))
    assert errors == []
    assert DAG_ID in dags


def test_import_error_check_can_fail(airflow_bin: str, tmp_path: Path) -> None:
    """The same check reports a broken DAG file, so an empty list above means something."""
    home, dags = tmp_path / "home", tmp_path / "dags"
    home.mkdir()
    dags.mkdir()
    (dags / "broken.py").write_text("from airflow.sdk import DAG\nimport no_such_module_here\n")
    env = airflow_env(home, dags)
    airflow(airflow_bin, env, "db", "migrate")
    errors, _ = import_errors(airflow_bin, env)
    assert len(errors) == 1 and "no_such_module_here" in errors[0]["error"]


def test_dags_test_runs_local_mode_against_mlflow(
    airflow_bin: str, airflow_home: Path, mlflow_uri: str, tmp_path: Path
) -> None:
    mlflow.set_tracking_uri(mlflow_uri)
    client = MlflowClient()
    before = {mv.version for mv in client.search_model_versions(f"name = '{steps.MODEL_NAME}'")}
    env = airflow_env(
        airflow_home,
        DAGS,
        FRAUD_PIPELINE_MODE="local",
        FRAUD_MLFLOW_TRACKING_URI=mlflow_uri,
        FRAUD_PIPELINE_PYTHON=sys.executable,
        FRAUD_WORK_ROOT=str(tmp_path),
        FRAUD_RETRY_DELAY_SECONDS="1",
    )
    conf = {"seed": SEED + 1, "customers": SMALL_WORLD.customers, "terminals": SMALL_WORLD.terminals, "days": 49}
    out = airflow(airflow_bin, env, "dags", "test", DAG_ID, "2026-11-26", "-c", json.dumps(conf))
    text = out.stdout + out.stderr
    assert re.search(r"DagRun Finished: dag_id=fraud_retraining.*state=success", text), text[-4000:]
    for step in ("table", "train", "log", "register", "promote"):
        assert f"task_id='{step}'" in text or f"task_id={step}" in text, f"task {step} did not run"

    after = client.search_model_versions(f"name = '{steps.MODEL_NAME}'")
    new = [mv for mv in after if mv.version not in before]
    assert len(new) == 1, f"versions before {before}, after {[mv.version for mv in after]}"
    mv = client.get_model_version(steps.MODEL_NAME, new[0].version)
    assert mv.tags["promotion"].startswith(("promoted", "not promoted")), mv.tags
    run = client.get_run(mv.run_id)
    assert run.data.params["data_seed"] == str(SEED + 1)
    assert {"auc_roc", "average_precision", "card_precision_at_100"} <= set(run.data.metrics)


def test_failing_task_is_retried_then_reported(airflow_bin: str, airflow_home: Path, tmp_path: Path) -> None:
    """A world too small to hold any transaction makes `train` fail: Airflow retries it
    twice, then the failure callback logs the task and run, and the run fails."""
    env = airflow_env(
        airflow_home,
        DAGS,
        FRAUD_PIPELINE_MODE="local",
        FRAUD_MLFLOW_TRACKING_URI="http://127.0.0.1:9",  # never reached: train fails first
        FRAUD_PIPELINE_PYTHON=sys.executable,
        FRAUD_WORK_ROOT=str(tmp_path),
        FRAUD_RETRY_DELAY_SECONDS="1",
    )
    conf = {"seed": 3, "customers": 3, "terminals": 3, "days": 28}
    out = subprocess.run(
        [airflow_bin, "dags", "test", DAG_ID, "2026-11-25", "-c", json.dumps(conf)],
        check=False, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    text = out.stdout + out.stderr
    assert re.search(r"DagRun Finished: dag_id=fraud_retraining.*state=failed", text), text[-4000:]
    assert "fraud retraining failed: dag=fraud_retraining task=train" in text, text[-4000:]
    assert "try=3" in text, "the failure callback should run after the third try"
    assert "pipeline: the table has no transactions" in text, "the step's own error should be in the log"
