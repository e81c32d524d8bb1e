"""The ``convbench`` command line: run, plot, backends."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .errors import UsageError

console = Console(stderr=False)
DEFAULT_RESULTS = Path("results")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


class _RichProgress:
    """Runner callbacks drawn as a rich progress bar."""

    def __init__(self, bar: Progress):
        self.bar, self.task = bar, None

    def start(self, total: int) -> None:
        self.task = self.bar.add_task("sweep", total=total)

    def case_started(self, case) -> None:
        p = case.problem
        self.bar.update(
            self.task,
            description=f"{p.op} {p.mode} {p.dtype} "
            f"{p.image_shape[0]}x{p.image_shape[1]} * {p.kernel_shape[0]}x{p.kernel_shape[1]}",
        )

    def case_finished(self, case, rows) -> None:
        self.bar.advance(self.task)

    def note(self, text: str) -> None:
        self.bar.console.print(f"[yellow]{text}[/]")


def _cmd_run(args) -> int:
    from kernels import get_backend

    from .config import load_config
    from .plots import plot_all
    from .runner import run_sweep
    from .summary import status_counts, summary_tables

    config = load_config(args.config)
    out_dir = Path(args.out) if args.out else DEFAULT_RESULTS / config.name
    if args.resume and not args.out and not out_dir.exists():
        raise UsageError(f"--resume: {str(out_dir)!r} does not exist; name the directory with --out")
    for name in config.backends:
        ok, reason = get_backend(name).available()
        if not ok:
            console.print(f"[yellow]backend {name} is unavailable and will be skipped: {reason}[/]")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        result = run_sweep(
            config, out_dir, resume=args.resume, progress=_RichProgress(bar), isolate=not args.no_isolate
        )
    if result.archived:
        console.print(f"the earlier run in {out_dir} was moved to {result.archived}")
    frame = result.frame
    console.print(f"{len(frame)} rows ({status_counts(frame)}) in {out_dir / 'results.parquet'}")
    if (frame["status"] == "ok").any():
        for path in plot_all(frame, out_dir, title=config.name):
            console.print(f"wrote {path}")
        for table in summary_tables(frame):
            console.print(table)
    if result.interrupted:
        console.print(
            f"[yellow]interrupted; finished cases are saved. Resume with:[/] "
            f"convbench run {args.config} --out {out_dir} --resume"
        )
        return 130
    return 0


def _cmd_plot(args) -> int:
    from .plots import plot_all
    from .store import load_results
    from .summary import summary_tables

    out_dir = Path(args.dir)
    frame = load_results(out_dir)
    if not (frame["status"] == "ok").any():
        raise UsageError(f"{str(out_dir)!r} has no successful rows to plot")
    for path in plot_all(frame, out_dir, title=out_dir.name):
        console.print(f"wrote {path}")
    for table in summary_tables(frame):
        console.print(table)
    return 0


def _cmd_backends(args) -> int:
    from kernels import backends

    table = Table(title="convbench backends")
    for column in ("name", "method", "device", "available", "reason"):
        table.add_column(column)
    for name, backend in sorted(backends().items()):
        ok, reason = backend.available()
        table.add_row(name, backend.method, backend.device, "yes" if ok else "no", reason)
    console.print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``convbench``."""
    parser = _Parser(prog="convbench", description="Benchmark direct vs FFT convolution and correlation.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run a sweep config; writes tables and plots")
    run.add_argument("config", help="TOML sweep config, e.g. configs/quick.toml")
    run.add_argument("--out", help="results directory (default results/<config name>)")
    run.add_argument("--resume", action="store_true", help="continue a sweep in --out, skipping finished cases")
    run.add_argument(
        "--no-isolate",
        action="store_true",
        help="run backends in this process (for debugging; a crash then ends the sweep)",
    )
    run.set_defaults(func=_cmd_run)
    plot = sub.add_parser("plot", help="redraw the plots and summary of a results directory")
    plot.add_argument("dir", help="results directory")
    plot.set_defaults(func=_cmd_plot)
    listing = sub.add_parser("backends", help="list backends, whether they can run here, and why not")
    listing.set_defaults(func=_cmd_backends)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``convbench`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"convbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
