"""`make train`: simulate tables with the Go command, fit and compare the three model families,
export the LightGBM bundle and the Go test vectors.

Two comparisons, each with all three families fitted on the same rows:
- "handbook": the strict §3.4 protocol on the first training seed (train one week from
  2018-07-25, delay 7 days, test 2018-08-08..14 less the known-compromised cards);
- "extended": every day from --train-from on of all training seeds — the model we ship.
Both are also scored on the handbook test week of evaluation seeds that no model was trained on,
which is what `go run ./training/evaluate -seed N` measures for the built-in model.

Decision threshold: the one with the best F1 on a validation test week (same protocol). For the
strict row that is the week two weeks before (train from 2018-07-11); for the shipped model,
which trains on whole simulations, it is the handbook test week of a validation seed that is
neither trained on nor evaluated on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import contrib, drift, export, models, protocol, selection, tables
from .data import CUSTOMER, DAY, LABEL, load_table, sha256_file
from .metrics import assess, max_f1_threshold

HANDBOOK_PUBLISHED = {
    # §3.4 test week (AUC ROC, AP, CP@100) and §5.3's XGBoost after model selection.
    "logistic_regression": (0.871, 0.606, 0.291),
    "random_forest": (0.867, 0.658, 0.287),
    "xgboost": (0.862, 0.639, 0.273),
    "xgboost (model selection)": (0.869, 0.687, 0.303),
}
METRICS = ("auc_roc", "average_precision", "card_precision_at_100")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m fraudtrain.train", description=__doc__.split("\n")[0])
    p.add_argument("--seeds", default="1,2", help="training seeds (comma separated)")
    p.add_argument("--validation-seed", type=int, default=50, help="seed whose test week picks the threshold")
    p.add_argument("--eval-seeds", default="101,102,103", help="unseen seeds to report on (never trained on)")
    p.add_argument("--customers", type=int, default=5000)
    p.add_argument("--terminals", type=int, default=10000)
    p.add_argument("--days", type=int, default=183)
    p.add_argument(
        "--train-start", type=int, default=protocol.HANDBOOK.train_start, help="protocol's first training day"
    )
    p.add_argument("--train-from", type=int, default=40, help="extended training: first day (after the 30-day warm-up)")
    p.add_argument("--lightgbm", default="", help="JSON object of LightGBM parameter overrides")
    p.add_argument(
        "--select",
        action="store_true",
        help="choose the LightGBM configuration and training span on a validation week (selection.GRID)",
    )
    p.add_argument("--select-spans", default="40,100", help="first training days the selection tries")
    p.add_argument("--work", type=Path, help="directory for the tables (default: a temporary one)")
    p.add_argument("--bundle", type=Path, required=True, help="output: model bundle directory")
    p.add_argument("--parity", type=Path, help="output: parity vectors CSV")
    p.add_argument("--parity-rows", type=int, default=10_000)
    p.add_argument("--contrib", type=Path, help="output: LightGBM's pred_contrib of the parity rows (CSV)")
    p.add_argument("--metric-vectors", type=Path, help="output: metric test vectors JSON")
    p.add_argument("--metric-vectors-modulo", type=int, default=8, help="keep customers with id %% m == 0")
    p.add_argument("--report", type=Path, help="output: the comparison as JSON")
    a = p.parse_args(argv)
    a.seeds = [int(s) for s in a.seeds.split(",")]
    a.eval_seeds = [int(s) for s in a.eval_seeds.split(",")]
    a.select_spans = tuple(int(s) for s in a.select_spans.split(","))
    if set(a.eval_seeds) & ({a.validation_seed} | set(a.seeds)) or a.validation_seed in a.seeds:
        p.error("training, validation and evaluation seeds must be distinct")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if a.work is None:
        with tempfile.TemporaryDirectory(prefix="fraudtrain-") as d:
            return run(a, Path(d))
    a.work.mkdir(parents=True, exist_ok=True)
    return run(a, a.work)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(a: argparse.Namespace, work: Path) -> int:
    window = protocol.Window(train_start=a.train_start)
    if window.end > a.days or window.shifted(-14).train_start < 0:
        raise SystemExit(f"the protocol's days {window.train_start - 14}..{window.end - 1} do not fit in {a.days} days")
    world = tables.World(a.customers, a.terminals, a.days)
    exe = tables.build_table_command(work)
    paths: dict[int, Path] = {}
    # Held-out seeds are simulated up to the end of the test week only, as the Go evaluate command
    # does: the simulator's draws depend on the number of days, so this is the exact data it scores.
    held_out = tables.World(a.customers, a.terminals, window.end)
    for seed in [*a.seeds, a.validation_seed, *a.eval_seeds]:
        t = time.time()
        w = world if seed in a.seeds else held_out
        paths[seed] = tables.write_table(exe, seed, w, work / f"table-{seed}.csv")
        log(f"table seed {seed}: {paths[seed].stat().st_size >> 20} MiB in {time.time() - t:.1f}s")

    # Only the test weeks of the validation and evaluation seeds are ever read.
    eval_tests = {s: protocol.test_rows(load_table(paths[s]), window) for s in a.eval_seeds}
    eval_full_first = load_table(paths[a.eval_seeds[0]])
    validation_test = protocol.test_rows(load_table(paths[a.validation_seed]), window)
    train_tables = {s: load_table(paths[s]) for s in a.seeds}

    lgb_params = dict(models.LIGHTGBM_PARAMS, **(json.loads(a.lightgbm) if a.lightgbm else {}))
    results: list[dict[str, Any]] = []
    chosen: dict[str, Any] | None = None
    if a.select:
        # On the training seeds only: each seed's last week validates a fit on the weeks before it
        # (7-day delay), so neither the evaluation seeds nor the threshold's seed are looked at.
        t = time.time()
        best, candidates = selection.select(train_tables, lgb_params, a.days, a.select_spans, log=log)
        lgb_params, a.train_from = best.params, best.span
        w = selection.validation_window(best.span, a.days)
        chosen = {
            "rule": "max average precision + CP@100 on the validation week (mean over training seeds)",
            "validation_window": f"train days {best.span}..{w.train_start + w.train_days - 1}, delay 7, "
            f"validate days {w.test_start}..{w.end - 1} of seeds {','.join(map(str, a.seeds))}",
            "chosen": best.record(),
            "candidates": [c.record() for c in candidates],
        }
        log(f"selection: chose {best.record()} in {time.time() - t:.0f}s")

    # The strict handbook protocol on the first training seed.
    first = train_tables[a.seeds[0]]
    strict_train, strict_test = protocol.split(first, window)
    val_train, val_test = protocol.split(first, window.shifted(-14))
    for family, fit in models.FITTERS.items():
        t = time.time()
        clf = fit_family(family, fit, strict_train, lgb_params)
        fit_s = time.time() - t
        row = {"data": f"handbook (seed {a.seeds[0]}, 1 train week)", "family": family, "train_rows": len(strict_train)}
        row["fit_seconds"] = round(fit_s, 1)
        row["test"] = assess(models.predict(clf, strict_test), strict_test)
        row["unseen"] = mean_assess(clf, eval_tests)
        if family == "lightgbm":
            vclf = fit_family(family, fit, val_train, lgb_params)
            thr, vf1 = max_f1_threshold(models.predict(vclf, val_test), val_test[LABEL].to_numpy())
            row["threshold"], row["validation_f1"] = thr, vf1
            row["test_f1"] = f1_at(models.predict(clf, strict_test), strict_test, thr)
        results.append(row)
        log(f"handbook {family}: {fmt(row['test'])} unseen {fmt(row['unseen'])} ({fit_s:.1f}s)")

    # The extended data: the shipped model and its comparisons.
    ext = pd.concat([tb[tb[DAY] >= a.train_from] for tb in train_tables.values()], ignore_index=True)
    del train_tables, first
    shipped = None
    reference = None
    for family, fit in models.FITTERS.items():
        t = time.time()
        clf = fit_family(family, fit, ext, lgb_params)
        fit_s = time.time() - t
        data = f"extended (seeds {','.join(map(str, a.seeds))}, days {a.train_from}..{a.days - 1})"
        row = {"data": data, "family": family, "train_rows": len(ext), "fit_seconds": round(fit_s, 1)}
        row["unseen"] = mean_assess(clf, eval_tests)
        row["unseen_per_seed"] = {s: assess(models.predict(clf, tb), tb) for s, tb in eval_tests.items()}
        if family == "lightgbm":
            vscores = models.predict(clf, validation_test)
            thr, vf1 = max_f1_threshold(vscores, validation_test[LABEL].to_numpy())
            row["threshold"], row["validation_f1"] = thr, vf1
            row["validation"] = assess(vscores, validation_test)
            row["unseen_f1"] = float(np.mean([f1_at(models.predict(clf, tb), tb, thr) for tb in eval_tests.values()]))
            shipped = (clf, row)
            window_text = f"training rows: seeds {','.join(map(str, a.seeds))}, days {a.train_from}..{a.days - 1}"
            reference = drift.reference(clf.booster_, ext, window_text)
        results.append(row)
        log(f"extended {family}: unseen {fmt(row['unseen'])} ({fit_s:.1f}s)")

    assert shipped is not None
    clf, row = shipped
    metrics = {f"validation_{k}": v for k, v in row["validation"].items()}
    metrics.update({f"unseen_{k}": v for k, v in row["unseen"].items()})
    metrics["validation_f1"], metrics["unseen_f1"] = row["validation_f1"], row["unseen_f1"]
    params = {
        "lightgbm": lgb_params,
        "training_seeds": a.seeds,
        "training_days": [a.train_from, a.days - 1],
        "training_rows": len(ext),
        "training_table_sha256": {str(s): sha256_file(paths[s]) for s in a.seeds},
        "world": {"customers": a.customers, "terminals": a.terminals, "days": a.days},
        "threshold_rule": (
            f"max F1 on the protocol test week (days {window.test_start}..{window.end - 1}) of seed {a.validation_seed}"
        ),
        "unseen_seeds": a.eval_seeds,
    }
    if chosen is not None:
        params["model_selection"] = chosen
        metrics.update({f"selection_{k}": v for k, v in chosen["chosen"]["validation"].items()})
    meta = export.export_bundle(
        clf.booster_,
        a.bundle,
        threshold=row["threshold"],
        table_sha256=concat_sha256([paths[s] for s in a.seeds]),
        data_seed=a.seeds[0],
        metrics=metrics,
        params=params,
        drift=reference,
    )
    trees = clf.booster_.num_trees()
    log(f"bundle {a.bundle}: version {meta['version']}, threshold {meta['threshold']:.4f}, {trees} trees")

    if a.parity:
        # Real rows of an unseen seed, past the features' 30-day warm-up.
        pool = eval_full_first[eval_full_first[DAY] >= min(a.train_from, window.train_start)]
        export.write_parity_csv(export.parity_rows(a.bundle / export.MODEL_FILE, pool, a.parity_rows), a.parity)
        log(f"parity vectors: {a.parity}")
        if a.contrib:
            contrib.write_contributions(a.bundle / export.MODEL_FILE, a.parity, a.contrib)
            log(f"TreeSHAP parity vectors: {a.contrib}")
    if a.metric_vectors:
        tb = eval_tests[a.eval_seeds[0]]
        tb = tb[tb[CUSTOMER] % a.metric_vectors_modulo == 0]
        export.write_json(export.metric_vectors(models.predict(clf, tb), tb), a.metric_vectors)
        log(f"metric vectors: {a.metric_vectors} ({len(tb)} rows)")

    print(comparison_table(results, a.eval_seeds))
    if a.report:
        a.report.parent.mkdir(parents=True, exist_ok=True)
        a.report.write_text(
            json.dumps({"results": results, "metadata": meta, "selection": chosen}, indent=2, default=str) + "\n"
        )
    return 0


def fit_family(family: str, fit: Any, rows: pd.DataFrame, lgb_params: dict[str, Any]) -> Any:
    return models.fit_lightgbm(rows, lgb_params) if family == "lightgbm" else fit(rows)


def mean_assess(clf: Any, tests: dict[int, pd.DataFrame]) -> dict[str, float]:
    per = [assess(models.predict(clf, tb), tb) for tb in tests.values()]
    return {k: float(np.mean([p[k] for p in per])) for k in METRICS}


def f1_at(scores: np.ndarray, rows: pd.DataFrame, threshold: float) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(rows[LABEL].to_numpy(), scores >= threshold))


def concat_sha256(paths: list[Path]) -> str:
    """sha256 of the training tables read one after the other (of the table, when just one)."""
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def fmt(m: dict[str, float]) -> str:
    return " / ".join(f"{m[k]:.3f}" for k in METRICS)


def comparison_table(results: list[dict[str, Any]], eval_seeds: list[int]) -> str:
    """Markdown: each fitted model on its own protocol test week and on the unseen seeds' weeks."""
    seeds = ",".join(map(str, eval_seeds))
    lines = [
        f"| data | model | rows | fit s | own test week AUC / AP / CP@100 | unseen seeds {seeds} AUC / AP / CP@100 |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        own = fmt(r["test"]) if "test" in r else "—"
        lines.append(
            f"| {r['data']} | {r['family']} | {r['train_rows']} | {r['fit_seconds']} | {own} | {fmt(r['unseen'])} |"
        )
    for name, (auc, ap, cp) in HANDBOOK_PUBLISHED.items():
        lines.append(f"| handbook published (§3.4/§5.3) | {name} | — | — | {auc:.3f} / {ap:.3f} / {cp:.3f} | — |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
