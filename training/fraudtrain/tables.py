"""Runs the Go table command (the one feature implementation) to write feature tables."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The repository root (training/fraudtrain/ → ../..)."""


@dataclass(frozen=True)
class World:
    """The simulated world; the defaults are the handbook's."""

    customers: int = 5000
    terminals: int = 10000
    days: int = 183


def build_table_command(out_dir: Path) -> Path:
    """Builds ./training/table once, so that each seed does not pay for `go run`'s link step."""
    exe = out_dir / "table"
    subprocess.run(["go", "build", "-o", str(exe), "./training/table"], cwd=REPO, check=True)
    return exe


def write_table(exe: Path, seed: int, world: World, out: Path) -> Path:
    """Simulates a world from seed and writes its feature table to out."""
    cmd = [
        str(exe),
        "-seed", str(seed),
        "-customers", str(world.customers),
        "-terminals", str(world.terminals),
        "-days", str(world.days),
        "-out", str(out),
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {done.returncode}: {done.stderr.strip()}")
    return out
