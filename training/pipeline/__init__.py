"""pipeline: the retraining pipeline's steps, each runnable alone as a command.

    python -m pipeline table    --workdir W (--seed N [--customers C --terminals T --days D] | --dataset FILE)
    python -m pipeline train    --workdir W [--train-start DAY] [--params JSON]
    python -m pipeline log      --workdir W
    python -m pipeline register --workdir W
    python -m pipeline promote  --workdir W
    python -m pipeline all      --workdir W ...   (the five in order)

Steps hand each other files in the work directory (a shared volume in the cluster): table.csv,
bundle/ (model.txt, metadata.json), evaluation.json, run.json, version.json, promotion.json.
MLflow is reached through MLFLOW_TRACKING_URI. Run from training/ (or with it on PYTHONPATH) so
that `fraudtrain`, the training library, imports.
"""
