"""The handbook's split: windows, and which cards leave the test set on which day."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import make_table

from fraudtrain import protocol


def test_handbook_windows():
    assert protocol.HANDBOOK.train_start == protocol.day_of(dt.date(2018, 7, 25)) == 115
    assert protocol.HANDBOOK.test_start == protocol.day_of(dt.date(2018, 8, 8))
    assert protocol.HANDBOOK.end == protocol.day_of(dt.date(2018, 8, 15))
    assert protocol.HANDBOOK_VALIDATION.train_start == protocol.day_of(dt.date(2018, 7, 11))
    assert protocol.HANDBOOK_VALIDATION.test_start == protocol.HANDBOOK.train_start


# A window training on days 10..11, delay 2 (days 12..13), testing days 14..16.
W = protocol.Window(train_start=10, train_days=2, delay_days=2, test_days=3)

# customer → (days with a fraud); every customer also transacts legitimately on every test day.
# Test day i knows the frauds up to day 11+i (test day - delay - 1).
FRAUD_DAYS = {
    1: [9],  # before the training window: never known, stays
    2: [10],  # fraud in training: gone from every test day
    3: [12],  # first delay day: known from test day 1 (day 15)
    4: [13],  # second delay day: known from test day 2 (day 16)
    5: [14],  # test day 0 itself: known only after the test week
    6: [],
}
WANT_TEST_CUSTOMERS = {14: {1, 3, 4, 5, 6}, 15: {1, 4, 5, 6}, 16: {1, 5, 6}}


@pytest.fixture
def table():
    rows = [(c, d, 1) for c, days in FRAUD_DAYS.items() for d in days]
    rows += [(c, d, 0) for c in FRAUD_DAYS for d in range(8, 18)]
    return make_table(rows)


def test_known_compromised_cards_leave_the_test_set(table):
    test = protocol.test_rows(table, W)
    got = {d: set(g.customer_id) for d, g in test.groupby("tx_time_days")}
    assert got == WANT_TEST_CUSTOMERS


def test_split_days(table):
    train, test = protocol.split(table, W)
    assert set(train.tx_time_days) == {10, 11}
    assert set(test.tx_time_days) == {14, 15, 16}
    assert len(train) == 2 * len(FRAUD_DAYS) + 1  # customer 2's fraud
