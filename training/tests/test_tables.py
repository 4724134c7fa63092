"""The Go table command's failures reach the caller with its message."""

from __future__ import annotations

import pytest

from fraudtrain import tables


def test_write_table_reports_the_command_error(tmp_path):
    exe = tmp_path / "table"
    exe.write_text("#!/bin/sh\necho 'table: customers must be positive' >&2\nexit 2\n")
    exe.chmod(0o755)
    with pytest.raises(RuntimeError, match="customers must be positive"):
        tables.write_table(exe, 1, tables.World(customers=0), tmp_path / "out.csv")
