"""Saves the built-in model.txt in MLflow's LightGBM flavour, for `mlflow models serve`.

Usage: python mlflow_model.py MODEL_TXT OUT_DIR
"""

import sys

import lightgbm as lgb
import mlflow.lightgbm

mlflow.lightgbm.save_model(lgb.Booster(model_file=sys.argv[1]), sys.argv[2])
