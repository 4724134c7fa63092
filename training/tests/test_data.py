"""Reading the Go table: exact floats, the header check."""

from __future__ import annotations

import hashlib

import pytest
from conftest import make_table, write_table_csv

from fraudtrain.data import FEATURES, TableError, load_table, sha256_file


def test_load_round_trips_floats_exactly(tmp_path):
    df = make_table([(1, 0, 0), (2, 1, 1)])
    awkward = [0.1, 1 / 3, 2.2250738585072014e-308, 220.00000000000003, 1e21, 5e-324]
    df.loc[0, list(FEATURES[: len(awkward)])] = awkward
    path = tmp_path / "t.csv"
    write_table_csv(df, path)
    got = load_table(path)
    assert got.loc[0, list(FEATURES[: len(awkward)])].tolist() == awkward
    assert got["tx_fraud"].tolist() == [0, 1]
    assert got["customer_id"].tolist() == [1, 2]


CORRUPT = {
    "wrong header": "a,b,c\n1,2,3\n",
    "features out of order": ",".join(["transaction_id", "tx_datetime", "customer_id", "terminal_id"]) + "\n",
}


@pytest.mark.parametrize("text", CORRUPT.values(), ids=CORRUPT.keys())
def test_load_rejects_other_files(tmp_path, text):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(TableError):
        load_table(path)


def test_sha256_file(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"fraud" * 100_000)
    assert sha256_file(path) == hashlib.sha256(b"fraud" * 100_000).hexdigest()
