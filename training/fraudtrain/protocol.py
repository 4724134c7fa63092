"""The handbook's evaluation protocol (§3.4 get_train_test_set): a training window, a delay during
which labels are not yet known, then a test window from which the cards already known to be
compromised are removed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from .data import CUSTOMER, DAY, LABEL

START = dt.date(2018, 4, 1)
"""Day 0 of the simulation (tx_time_days counts from it)."""


def day_of(date: dt.date) -> int:
    """Days since the simulation start."""
    return (date - START).days


@dataclass(frozen=True)
class Window:
    """Train on [train_start, train_start+train_days), wait delay_days, test the next test_days."""

    train_start: int
    train_days: int = 7
    delay_days: int = 7
    test_days: int = 7

    @property
    def test_start(self) -> int:
        return self.train_start + self.train_days + self.delay_days

    @property
    def end(self) -> int:
        """The day after the last test day."""
        return self.test_start + self.test_days

    def shifted(self, days: int) -> Window:
        return Window(self.train_start + days, self.train_days, self.delay_days, self.test_days)


HANDBOOK = Window(train_start=day_of(dt.date(2018, 7, 25)))
"""§3.4: train 2018-07-25..31, test 2018-08-08..14."""

HANDBOOK_VALIDATION = HANDBOOK.shifted(-14)
"""§5.2's hold-out validation: the same protocol two weeks earlier (train from 2018-07-11); its test
week is the handbook's training week, so it never sees the handbook's test week."""


def train_rows(df: pd.DataFrame, w: Window) -> pd.DataFrame:
    """The training window's transactions."""
    d = df[DAY]
    return df[(d >= w.train_start) & (d < w.train_start + w.train_days)]


def test_rows(df: pd.DataFrame, w: Window) -> pd.DataFrame:
    """The test window's transactions less the cards known to be compromised by each test day:
    those with a fraud from the start of the training window up to day train_start+train_days+i-1
    for test day i (test day - delay - 1), as the handbook adds one delay day per test day."""
    parts = []
    frauds = df[df[LABEL] == 1]
    for i in range(w.test_days):
        known_up_to = w.train_start + w.train_days + i - 1  # inclusive
        fd = frauds[DAY]
        known = frauds.loc[(fd >= w.train_start) & (fd <= known_up_to), CUSTOMER].unique()
        day = df[df[DAY] == w.test_start + i]
        parts.append(day[~day[CUSTOMER].isin(known)])
    return pd.concat(parts)


def split(df: pd.DataFrame, w: Window) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) as the handbook's get_train_test_set."""
    return train_rows(df, w), test_rows(df, w)
