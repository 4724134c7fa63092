"""Daily retraining of the fraud model, tracked in MLflow.

Five tasks, the pipeline's steps (training/pipeline), in order: table → train → log → register →
promote. In the cluster (the default) each task is a KubernetesPodOperator running the project's
training image (`python -m pipeline STEP`), all on one shared volume for their work files. With
FRAUD_PIPELINE_MODE=local the same commands run as subprocesses of the Airflow worker (tests,
`airflow dags test`).

Environment read when the DAG file is parsed:
  FRAUD_PIPELINE_MODE         kubernetes (default) | local
  FRAUD_MLFLOW_TRACKING_URI   MLflow server the tasks report to (default http://mlflow.mlflow.svc:5000)
  FRAUD_TRAINING_IMAGE        image with the pipeline (kubernetes mode)
  FRAUD_NAMESPACE             namespace of the task pods (kubernetes mode, default fraud-detector)
  FRAUD_WORK_PVC              PersistentVolumeClaim shared by the tasks (kubernetes mode)
  FRAUD_PIPELINE_PYTHON       Python with the pipeline's requirements (local mode)
  FRAUD_WORK_ROOT             where each run's work directory goes (local mode)
  FRAUD_RETRY_DELAY_SECONDS   delay between the two retries of a failed task (default 300)
"""

from __future__ import annotations

import itertools
import logging
import os
import shlex
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param

DAG_ID = "fraud_retraining"
STEPS = ("table", "train", "log", "register", "promote")
TRAINING_DIR = Path(__file__).resolve().parents[1]
"""training/ in this checkout (git-sync puts the repository under the DAGs folder)."""

MODE = os.environ.get("FRAUD_PIPELINE_MODE", "kubernetes")
MLFLOW_URI = os.environ.get("FRAUD_MLFLOW_TRACKING_URI", "http://mlflow.mlflow.svc:5000")
IMAGE = os.environ.get("FRAUD_TRAINING_IMAGE", "ghcr.io/fraud-detector/fraud-detector-training:latest")
NAMESPACE = os.environ.get("FRAUD_NAMESPACE", "fraud-detector")
WORK_PVC = os.environ.get("FRAUD_WORK_PVC", "fraud-retraining-work")
RETRY_DELAY = timedelta(seconds=int(os.environ.get("FRAUD_RETRY_DELAY_SECONDS", "300")))

log = logging.getLogger(__name__)


def step_args(step: str, workdir: str) -> list[str]:
    """The pipeline command line of one step (Jinja-templated: params come from the DAG run)."""
    args = [step, "--workdir", workdir]
    if step == "table":
        args += ["--seed", "{{ params.seed if params.seed is not none else logical_date.strftime('%Y%m%d') }}",
                 "--customers", "{{ params.customers }}", "--terminals", "{{ params.terminals }}",
                 "--days", "{{ params.days }}"]  # fmt: skip
    return args


def on_failure(context: dict[str, Any]) -> None:
    """Failure callback: one log line naming the run, task and error, for the alerting that reads
    Airflow's task logs (and visible in the UI's task log)."""
    ti = context.get("task_instance")
    log.error(
        "fraud retraining failed: dag=%s task=%s run=%s try=%s error=%s",
        DAG_ID,
        getattr(ti, "task_id", "?"),
        context.get("run_id", "?"),
        getattr(ti, "try_number", "?"),
        context.get("exception"),
    )


def _local_task(step: str) -> Any:
    from airflow.providers.standard.operators.bash import BashOperator

    python = os.environ.get("FRAUD_PIPELINE_PYTHON", sys.executable)
    root = os.environ.get("FRAUD_WORK_ROOT", "/tmp/fraud-retraining")
    workdir = root + "/{{ run_id | replace(':', '_') | replace('+', '_') }}"
    cmd = " ".join([shlex.quote(python), "-m", "pipeline", *step_args(step, workdir)])
    return BashOperator(
        task_id=step,
        bash_command=cmd,
        cwd=str(TRAINING_DIR),
        env={"PYTHONPATH": str(TRAINING_DIR), "MLFLOW_TRACKING_URI": MLFLOW_URI},
        append_env=True,
    )


def _pod_task(step: str) -> Any:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes.client import models as k8s

    workdir = "/work/{{ run_id | replace(':', '_') | replace('+', '_') }}"
    return KubernetesPodOperator(
        task_id=step,
        name=f"fraud-retraining-{step}",
        namespace=NAMESPACE,
        image=IMAGE,
        cmds=["python", "-m", "pipeline"],
        arguments=step_args(step, workdir),
        env_vars={"MLFLOW_TRACKING_URI": MLFLOW_URI},
        volumes=[k8s.V1Volume(name="work", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(WORK_PVC))],
        volume_mounts=[k8s.V1VolumeMount(name="work", mount_path="/work")],
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "1", "memory": "2Gi"}, limits={"cpu": "2", "memory": "4Gi"}
        ),
        get_logs=True,
        on_finish_action="delete_succeeded_pod",
    )


with DAG(
    dag_id=DAG_ID,
    description="Build features (Go), train LightGBM, track in MLflow, promote the champion",
    schedule="@daily",
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_runs=1,
    tags=["fraud-detector", "mlflow"],
    params={
        "seed": Param(None, type=["null", "integer"], description="simulation seed (default: the run's date)"),
        "customers": Param(5000, type="integer", minimum=1),
        "terminals": Param(10000, type="integer", minimum=1),
        "days": Param(183, type="integer", minimum=28),
    },
    default_args={
        "retries": 2,
        "retry_delay": RETRY_DELAY,
        "on_failure_callback": on_failure,
        "execution_timeout": timedelta(hours=2),
    },
) as dag:
    make = _local_task if MODE == "local" else _pod_task
    tasks = [make(step) for step in STEPS]
    for upstream, downstream in itertools.pairwise(tasks):
        upstream >> downstream
