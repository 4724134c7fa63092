"""Command line of the retraining steps: python -m pipeline STEP --workdir DIR [options]."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from fraudtrain.tables import World

from . import steps

STEPS = ("table", "train", "log", "register", "promote")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__)
    p.add_argument("step", choices=(*STEPS, "all"), help="the step to run, or all of them in order")
    p.add_argument("--workdir", type=Path, required=True, help="files shared between the steps")
    g = p.add_argument_group("table")
    g.add_argument("--seed", type=int, help="simulate a world from this seed")
    g.add_argument("--dataset", type=Path, help="or ingest this dataset file (handbook CSV)")
    g.add_argument("--customers", type=int, default=World.customers)
    g.add_argument("--terminals", type=int, default=World.terminals)
    g.add_argument("--days", type=int, default=World.days)
    g = p.add_argument_group("train")
    g.add_argument("--train-start", type=int, help="first training day (default: test week = last 7 days)")
    g.add_argument("--params", type=json.loads, default=None, help="fixed LightGBM params (JSON): no selection")
    return p


def run(args: argparse.Namespace) -> None:
    todo = STEPS if args.step == "all" else (args.step,)
    for step in todo:
        if step == "table":
            out = steps.table(args.workdir, args.seed, World(args.customers, args.terminals, args.days), args.dataset)
        elif step == "train":
            out = steps.train(args.workdir, args.train_start, args.params)
        else:
            out = getattr(steps, step)(args.workdir)
        print(json.dumps({"step": step, **out}, sort_keys=True, default=str), flush=True)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    try:
        run(parser().parse_args(argv))
    except (ValueError, FileNotFoundError) as e:
        print(f"pipeline: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
