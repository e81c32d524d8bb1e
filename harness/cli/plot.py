"""``convbench plot DIR [DIR ...]``: redraw a run's plots and summary, or overlay several runs."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..present.plots import plot_all, plot_overlay
from ..present.summary import summary_tables
from ..store.tables import load_results
from ._console import add_format_flag, console


def add_parser(sub) -> None:
    plot = sub.add_parser("plot", help="redraw the plots and summary of a results directory, or overlay runs")
    plot.add_argument("dirs", nargs="+", metavar="DIR", help="results directory; two or more are overlaid")
    plot.add_argument("--out", help="where overlay plots go (default: the last DIR)")
    add_format_flag(plot)
    plot.set_defaults(func=main)


def main(args) -> int:
    frames = {}
    for directory in map(Path, args.dirs):
        frame = load_results(directory)
        if not (frame["status"] == "ok").any():
            raise UsageError(f"{str(directory)!r} has no successful rows to plot")
        label = directory.name if directory.name not in frames else str(directory)
        frames[label] = frame
    if len(frames) == 1:
        (label, frame), directory = next(iter(frames.items())), Path(args.dirs[0])
        for path in plot_all(frame, directory, title=label, formats=args.format):
            console.print(f"wrote {path}")
        for table in summary_tables(frame):
            console.print(table)
        return 0
    out_dir = Path(args.out) if args.out else Path(args.dirs[-1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in plot_overlay(frames, out_dir, formats=args.format):
        console.print(f"wrote {path}")
    return 0
