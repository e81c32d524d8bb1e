"""``convbench plot DIR``: redraw the plots and the summary of a results directory."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..present.plots import plot_all
from ..present.summary import summary_tables
from ..store.tables import load_results
from ._console import console


def add_parser(sub) -> None:
    plot = sub.add_parser("plot", help="redraw the plots and summary of a results directory")
    plot.add_argument("dir", help="results directory")
    plot.set_defaults(func=main)


def main(args) -> int:
    out_dir = Path(args.dir)
    frame = load_results(out_dir)
    if not (frame["status"] == "ok").any():
        raise UsageError(f"{str(out_dir)!r} has no successful rows to plot")
    for path in plot_all(frame, out_dir, title=out_dir.name):
        console.print(f"wrote {path}")
    for table in summary_tables(frame):
        console.print(table)
    return 0
