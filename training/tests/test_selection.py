"""Model selection: the validation window, and that the winner is the best-scoring candidate."""

from __future__ import annotations

import pytest

from fraudtrain import models, selection


def test_validation_window_ends_the_table():
    w = selection.validation_window(40, 183)
    assert (w.train_start, w.train_start + w.train_days, w.test_start, w.end) == (40, 169, 176, 183)
    with pytest.raises(ValueError):
        selection.validation_window(170, 183)


def test_select_picks_the_best_validation_score(synthetic_training_table):
    grid = (
        {"n_estimators": 2, "num_leaves": 2, "learning_rate": 0.01, "min_child_samples": 5},
        {"n_estimators": 30, "num_leaves": 7, "learning_rate": 0.1, "min_child_samples": 20},
    )
    base = dict(models.LIGHTGBM_PARAMS, n_jobs=1)
    logs: list[str] = []
    best, all_ = selection.select({1: synthetic_training_table}, base, 30, (0, 5), grid, log=logs.append)
    assert len(all_) == 4 and len(logs) == 4
    assert best.score == max(c.score for c in all_)
    assert best.score == best.validation["average_precision"] + best.validation["card_precision_at_100"]
    assert {c.span for c in all_} == {0, 5}
    # Every span is scored on the same validation rows (the cards known after the longest span
    # removed), not on a set that grows as the span shrinks.
    assert len({c.validation_rows for c in all_}) == 1 and all_[0].validation_rows > 0
    # The tiny model cannot separate the classes as well as the real one.
    assert best.params["n_estimators"] == 30
    rec = best.record()
    assert rec["params"]["num_leaves"] == 7 and rec["train_from"] in (0, 5) and rec["score"] == best.score
