# Retraining: the pipeline (training/pipeline), the Airflow DAG (training/dags) and the function
# following the MLflow champion (internal/registry). Venvs are cached under $(CACHE), named by a
# hash of their requirements, so a change of pins makes a new one and an unchanged one is reused.
PIPELINE_REQS := training/requirements.txt training/requirements-pipeline.txt
PIPELINE_VENV := $(CACHE)/venv-pipeline-$(shell cat $(PIPELINE_REQS) 2>/dev/null | sha256sum | cut -c1-12)
AIRFLOW_VENV := $(CACHE)/venv-airflow-$(shell sha256sum < training/requirements-airflow.txt 2>/dev/null | cut -c1-12)

TEST_TARGETS += test-retraining
.PHONY: test-retraining retraining-venvs retrain

# A venv is complete only once its .installed stamp exists; a half-made one is rebuilt.
$(PIPELINE_VENV)/.installed:
	rm -rf $(PIPELINE_VENV)
	python3 -m venv $(PIPELINE_VENV)
	$(PIPELINE_VENV)/bin/pip install -q --disable-pip-version-check -r training/requirements-pipeline.txt
	touch $@

$(AIRFLOW_VENV)/.installed:
	rm -rf $(AIRFLOW_VENV)
	python3 -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install -q --disable-pip-version-check -r training/requirements-airflow.txt
	touch $@

retraining-venvs: $(PIPELINE_VENV)/.installed $(AIRFLOW_VENV)/.installed

# Go: the registry client and the real function binary against a real MLflow server; Python:
# the pipeline and the DAG in a real Airflow against a real MLflow server (each starts its own).
test-retraining: retraining-venvs
	cd training && $(PIPELINE_VENV)/bin/ruff check --config pipeline/ruff.toml pipeline dags && $(PIPELINE_VENV)/bin/ruff format --config pipeline/ruff.toml --check pipeline dags
	out=$$(mktemp); trap 'rm -f $$out' EXIT; \
	FD_MLFLOW_BIN=$(PIPELINE_VENV)/bin/mlflow go test -count=1 -v -run 'TestRealMLflowClient|TestFunctionFollowsChampion' \
		./internal/registry 2>&1 | tee $$out; \
	for t in TestRealMLflowClient TestFunctionFollowsChampion; do \
		grep -q -- "^--- PASS: $$t " $$out || { echo "$$t did not run and pass"; exit 1; }; done
	cd training && PYTHONPATH=. FD_AIRFLOW_BIN=$(AIRFLOW_VENV)/bin/airflow \
		$(PIPELINE_VENV)/bin/python -m pytest -q -p no:cacheprovider pipeline/tests

# One retraining run by hand against $(MLFLOW_TRACKING_URI): make retrain MLFLOW_TRACKING_URI=http://… SEED=7
SEED ?= 1
retrain: $(PIPELINE_VENV)/.installed
	cd training && PYTHONPATH=. MLFLOW_TRACKING_URI=$(MLFLOW_TRACKING_URI) \
		$(PIPELINE_VENV)/bin/python -m pipeline all --workdir $$(mktemp -d) --seed $(SEED)
