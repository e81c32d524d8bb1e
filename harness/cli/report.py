"""``convbench report DIR``: write DIR/report.md (machine, crossovers, model fits, plots)."""

from __future__ import annotations

from pathlib import Path

from ..present.report import write_report
from ._console import console


def add_parser(sub) -> None:
    report = sub.add_parser("report", help="write DIR/report.md: machine, crossovers, model fits, plots")
    report.add_argument("dir", help="results directory")
    report.set_defaults(func=main)


def main(args) -> int:
    console.print(f"wrote {write_report(Path(args.dir))}")
    return 0
