"""Registers the built-in model (internal/model/builtin) in an MLflow server as version 1 of
`fraud-detector` with the alias `champion`, the way the retraining pipeline lays it out (a run's
`bundle/` artifacts: model.txt and metadata.json), so that MODEL_URI=models:/fraud-detector@champion
loads it. Used by config/local/attack.sh against the host's MLflow server.

    python champion.py TRACKING_URI BUNDLE_DIR
"""

import sys

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

import mlflow

NAME, ALIAS, BUNDLE = "fraud-detector", "champion", "bundle"


def main(uri: str, bundle_dir: str) -> None:
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("fraud-detector-local-cluster")
    with mlflow.start_run() as run:
        mlflow.log_artifact(f"{bundle_dir}/model.txt", BUNDLE)
        mlflow.log_artifact(f"{bundle_dir}/metadata.json", BUNDLE)
    client = MlflowClient()
    try:
        client.create_registered_model(NAME)
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    mv = client.create_model_version(NAME, source=f"{run.info.artifact_uri}/{BUNDLE}", run_id=run.info.run_id)
    client.set_registered_model_alias(NAME, ALIAS, mv.version)
    print(f"champion: {NAME} version {mv.version} ({run.info.artifact_uri}/{BUNDLE})")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
