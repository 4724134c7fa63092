"""The retraining steps. Each reads its inputs from and writes its outputs to the work directory,
so each can run alone (as its own Airflow task, in its own pod)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from fraudtrain.data import DAY, FEATURES, LABEL, load_table, sha256_file
from fraudtrain.drift import reference as drift_reference
from fraudtrain.export import export_bundle
from fraudtrain.metrics import assess, max_f1_threshold
from fraudtrain.models import LIGHTGBM_PARAMS, fit_lightgbm, predict
from fraudtrain.protocol import Window, split
from fraudtrain.selection import GRID
from fraudtrain.tables import REPO, World

MODEL_NAME = "fraud-detector"
CHAMPION = "champion"
EXPERIMENT = "fraud-detector-retraining"
PRIMARY_METRIC = "average_precision"
"""Promotion compares this metric (the handbook's threshold-free measure most sensitive to the
rare class); AUC and CP@100 are logged beside it."""

TABLE = "table.csv"
TABLE_INFO = "table.json"
BUNDLE = "bundle"
EVALUATION = "evaluation.json"
RUN = "run.json"
VERSION = "version.json"
PROMOTION = "promotion.json"


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _read_json(path: Path) -> Any:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run the step that writes it first")
    return json.loads(path.read_text(encoding="utf-8"))


# --- 1. table -------------------------------------------------------------------------------


def table(workdir: Path, seed: int | None = None, world: World | None = None, dataset: Path | None = None) -> dict:
    """Simulates a world from seed (or ingests a handbook-format dataset file) and writes its
    feature table with the Go table command, the features' one implementation."""
    if (seed is None) == (dataset is None):
        raise ValueError("table needs exactly one of seed and dataset")
    world = world or World()
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / TABLE
    # The training image ships the command prebuilt (FD_TABLE_BIN); a checkout runs it with go.
    exe = os.environ.get("FD_TABLE_BIN")
    cmd = [exe] if exe else ["go", "run", "./training/table"]
    cmd += ["-out", str(out)]
    if dataset is not None:
        cmd += ["-dataset", str(Path(dataset).resolve())]
    else:
        cmd += ["-seed", str(seed), "-customers", str(world.customers), "-terminals", str(world.terminals)]
        cmd += ["-days", str(world.days)]
    subprocess.run(cmd, cwd=REPO if not exe else None, check=True)
    info: dict[str, Any] = {"sha256": sha256_file(out), "rows": sum(1 for _ in out.open()) - 1}
    if dataset is not None:
        info["dataset"] = str(dataset)
    else:
        info.update({"seed": seed, **asdict(world)})
    _write_json(workdir / TABLE_INFO, info)
    return info


# --- 2. train -------------------------------------------------------------------------------


def default_window(df: pd.DataFrame) -> Window:
    """The handbook protocol placed at the end of the table: the last 7 days are the test week."""
    if df.empty:
        raise ValueError("the table has no transactions")
    days = int(df[DAY].max()) + 1
    w = Window(train_start=days - 21)
    if w.train_start < 7:
        raise ValueError(f"table covers {days} days; the protocol needs at least 28 (validation week included)")
    return w


SELECTION_RULE = "max AP + CP@100 on the validation week"


def train(workdir: Path, train_start: int | None = None, params: dict[str, Any] | None = None) -> dict:
    """Fits LightGBM on the training week, picks the decision threshold on a validation split one
    week earlier (max F1), evaluates on the test week and writes the model bundle."""
    info = _read_json(workdir / TABLE_INFO)
    df = load_table(workdir / TABLE)
    w = Window(train_start=train_start) if train_start is not None else default_window(df)
    p = {**LIGHTGBM_PARAMS, **(params or {})}

    val_train, val_test = split(df, w.shifted(-7))
    _require_both_classes(val_train, "validation training week")
    _require_both_classes(val_test, "validation test week")
    # Model selection as `make train` does it (fraudtrain.selection): every candidate fitted on the
    # validation training week and scored on the validation week by AP + CP@100; the test week is
    # only used for the chosen one's metrics. Parameters given explicitly (--params) are a fixed
    # configuration: no selection then.
    candidates = []
    best = None
    if params is None:
        for g in GRID:
            clf = fit_lightgbm(val_train, {**p, **g})
            candidates.append({"params": g, "validation": assess(predict(clf, val_test), val_test)})
        best = max(
            candidates, key=lambda c: c["validation"]["average_precision"] + c["validation"]["card_precision_at_100"]
        )
        p = {**p, **best["params"]}
    threshold, val_f1 = max_f1_threshold(predict(fit_lightgbm(val_train, p), val_test), val_test[LABEL].to_numpy())
    threshold = min(max(threshold, 1e-6), 1 - 1e-6)  # the loader requires 0 < t < 1

    tr, te = split(df, w)
    _require_both_classes(tr, "training week")
    _require_both_classes(te, "test week")
    clf = fit_lightgbm(tr, p)
    metrics = assess(predict(clf, te), te)

    metadata = export_bundle(
        clf.booster_,
        workdir / BUNDLE,
        threshold=threshold,
        table_sha256=info["sha256"],
        data_seed=int(info.get("seed", 0)),  # 0: an ingested dataset, named in table.json
        metrics={
            **metrics,
            "validation_f1": val_f1,
            **({f"selection_{k}": v for k, v in best["validation"].items()} if best else {}),
        },
        params={**p, **({"model_selection": {"rule": SELECTION_RULE, "chosen": best}} if best else {})},
        drift=drift_reference(clf.booster_, tr, f"training week: days {w.train_start}..{w.train_start + 6}"),
    )
    model_sha = metadata["model_sha256"]
    evaluation = {
        "window": asdict(w),
        "test_days": [w.test_start, w.end - 1],
        "train_rows": len(tr),
        "test_rows": len(te),
        "metrics": metrics,
        "threshold": threshold,
        "validation_f1": val_f1,
        "params": p,
        "table_sha256": info["sha256"],
        "model_sha256": model_sha,
    }
    if best:
        evaluation["selection"] = {"rule": SELECTION_RULE, "chosen": best, "candidates": candidates}
    _write_json(workdir / EVALUATION, evaluation)
    return evaluation


def _require_both_classes(rows: pd.DataFrame, what: str) -> None:
    if rows[LABEL].nunique() < 2:
        raise ValueError(f"the {what} has {len(rows)} rows and not both classes: use a larger window or world")


# --- 3. log ---------------------------------------------------------------------------------


def log(workdir: Path) -> dict:
    """Records the training run in MLflow: parameters, metrics, the table's hash, the bundle
    (model.txt + metadata.json) as artifacts, and the model through the LightGBM flavour."""
    import mlflow

    ev = _read_json(workdir / EVALUATION)
    info = _read_json(workdir / TABLE_INFO)
    bundle = workdir / BUNDLE
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run() as run:
        mlflow.log_params({f"lgbm_{k}": v for k, v in ev["params"].items()})
        mlflow.log_params({f"window_{k}": v for k, v in ev["window"].items()})
        mlflow.log_params({"table_rows": info["rows"], "train_rows": ev["train_rows"], "test_rows": ev["test_rows"]})
        if "seed" in info:
            world = {k: info[k] for k in ("customers", "terminals", "days")}
            mlflow.log_params({"data_seed": info["seed"], **world})
        mlflow.log_metrics({**ev["metrics"], "threshold": ev["threshold"], "validation_f1": ev["validation_f1"]})
        if "selection" in ev:
            # The chosen configuration is in the lgbm_* params above; every candidate's scores too.
            chosen = ev["selection"]["chosen"]["validation"]
            mlflow.log_metrics({f"selection_{k}": v for k, v in chosen.items()})
            mlflow.log_dict(ev["selection"], "selection.json")
        mlflow.set_tags({"table_sha256": info["sha256"], "model_sha256": ev["model_sha256"]})
        mlflow.log_artifact(str(bundle / "model.txt"), BUNDLE)
        mlflow.log_artifact(str(bundle / "metadata.json"), BUNDLE)
        mlflow.log_artifact(str(workdir / EVALUATION))
        mlflow.lightgbm.log_model(
            lgb.Booster(model_file=str(bundle / "model.txt")),
            name="lightgbm",
            pip_requirements=[f"lightgbm=={lgb.__version__}"],  # no slow requirement inference
        )
        out = {
            "run_id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "artifact_uri": run.info.artifact_uri,
        }
    _write_json(workdir / RUN, out)
    return out


# --- 4. register ----------------------------------------------------------------------------


def register(workdir: Path) -> dict:
    """Registers the run's bundle as a new version of the model `fraud-detector`."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    run = _read_json(workdir / RUN)
    ev = _read_json(workdir / EVALUATION)
    client = MlflowClient()
    try:
        client.create_registered_model(MODEL_NAME)
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    mv = client.create_model_version(
        MODEL_NAME,
        source=f"{run['artifact_uri']}/{BUNDLE}",
        run_id=run["run_id"],
        tags={"table_sha256": ev["table_sha256"], "model_sha256": ev["model_sha256"]},
    )
    out = {"name": MODEL_NAME, "version": mv.version, "source": mv.source, "run_id": run["run_id"]}
    _write_json(workdir / VERSION, out)
    return out


# --- 5. promote -----------------------------------------------------------------------------


def _booster_scores(model_txt: Path, rows: pd.DataFrame) -> np.ndarray:
    booster = lgb.Booster(model_file=str(model_txt))
    return booster.predict(rows.loc[:, list(FEATURES)].to_numpy(dtype=np.float64))


def promote(workdir: Path) -> dict:
    """Moves the alias `champion` to the new version only if it beats the current champion on
    the same test window of the same table (the champion is rescored here, not trusted from its
    own run); otherwise tags the version with why it was not promoted."""
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    ev = _read_json(workdir / EVALUATION)
    new = _read_json(workdir / VERSION)
    df = load_table(workdir / TABLE)
    _, test = split(df, Window(**ev["window"]))
    new_metrics = assess(_booster_scores(workdir / BUNDLE / "model.txt", test), test)
    where = f"test days {ev['test_days'][0]}-{ev['test_days'][1]} of table {ev['table_sha256'][:12]}"

    client = MlflowClient()
    try:
        champ = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except MlflowException as e:
        if e.error_code != "RESOURCE_DOES_NOT_EXIST" and "not found" not in str(e).lower():
            raise
        champ = None

    result: dict[str, Any] = {"version": new["version"], "metrics": new_metrics, "compared_on": where}
    if champ is None:
        promoted, reason = True, "promoted: no champion yet"
    elif champ.version == new["version"]:
        promoted, reason = False, "already champion"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = download_artifacts(artifact_uri=f"{champ.source}/model.txt", dst_path=tmp)
            champ_metrics = assess(_booster_scores(Path(path), test), test)
        result["champion"] = {"version": champ.version, "metrics": champ_metrics}
        a, b = new_metrics[PRIMARY_METRIC], champ_metrics[PRIMARY_METRIC]
        promoted = a > b
        verb = "promoted" if promoted else "not promoted"
        cmp = ">" if promoted else "<="
        reason = f"{verb}: {PRIMARY_METRIC} {a:.4f} {cmp} champion v{champ.version} {b:.4f} on {where}"
    result.update({"promoted": promoted, "reason": reason})

    tags = {"promotion": reason, "promotion_compared_on": where}
    tags.update({f"eval_{k}": f"{v:.6f}" for k, v in new_metrics.items()})
    if "champion" in result:
        tags["promotion_champion_version"] = result["champion"]["version"]
    for k, v in tags.items():
        client.set_model_version_tag(MODEL_NAME, new["version"], k, v)
    if promoted:
        client.set_registered_model_alias(MODEL_NAME, CHAMPION, new["version"])
    _write_json(workdir / PROMOTION, result)
    return result
