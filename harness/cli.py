"""The ``convbench`` command line: run, plot, backends, choose, compare, report."""

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


def parse_shape(text: str, what: str) -> tuple[int, int]:
    """``"N"`` -> (N, N); ``"HxW"`` -> (H, W); a 1-D signal of length L is ``"1xL"``."""
    parts = text.lower().split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        dims = []
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or min(dims) < 1:
        raise UsageError(f"--{what}: expected N, HxW or 1xL with positive integers, got {text!r}")
    return dims[0], dims[1]


def _calibration_dir(op: str, mode: str, dtype: str) -> Path:
    """An existing calibration run that covers the query, or a new one (run now)."""
    from .chooser import calibration_config
    from .runner import run_sweep
    from .store import TABLE, load_results

    own = DEFAULT_RESULTS / f"calibrate-{op}-{mode}-{dtype}"
    for candidate in (own, DEFAULT_RESULTS / "calibrate"):
        if (candidate / TABLE).exists():
            frame = load_results(candidate)
            ok = frame[frame["status"] == "ok"]
            if ((ok["dtype"] == dtype) & (ok["op"] == op) & (ok["mode"] == mode)).any():
                return candidate
    config = calibration_config(op, mode, dtype)
    console.print(
        f"no calibration for {op} {mode} {dtype} under {DEFAULT_RESULTS}/: running configs/calibrate.toml "
        f"({len(config.cases)} cases, a few minutes) into {own}"
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        result = run_sweep(config, own, progress=_RichProgress(bar))
    if result.interrupted:
        raise UsageError(
            f"calibration interrupted; resume it with: convbench run configs/calibrate.toml --out {own} --resume"
        )
    return own


def _cmd_choose(args) -> int:
    if args.validate:
        return _validate_choices(args)
    if not args.image or not args.kernel:
        raise UsageError("choose needs --image and --kernel (or --validate DIR with --results DIR)")
    from .chooser import choose, outside_calibration

    image, kernel = parse_shape(args.image, "image"), parse_shape(args.kernel, "kernel")
    results = Path(args.results) if args.results else _calibration_dir(args.op, args.mode, args.dtype)
    ranked = choose(image, kernel, results=results, dtype=args.dtype, op=args.op, mode=args.mode, threads=args.threads)
    best = ranked.iloc[0]
    table = Table(
        title=f"{args.op} {args.mode} {args.dtype}, image {image[0]}x{image[1]}, kernel {kernel[0]}x{kernel[1]}, "
        f"{best['threads']} threads (calibration: {results})",
        title_justify="left",
    )
    for column in ("backend", "method", "predicted", "model alone", "vs fastest"):
        table.add_column(column)
    for r in ranked.to_dict("records"):
        table.add_row(
            r["backend"],
            r["method"],
            _seconds(r["predicted_s"]),
            _seconds(r["model_s"]),
            f"{r['predicted_s'] / best['predicted_s']:.2f}x",
        )
    console.print(table)
    for note in filter(None, [best["note"], outside_calibration(results, image, kernel)]):
        console.print(f"[yellow]note: {note}[/]")
    console.print(f"fastest: [bold]{best['backend']}[/] ({best['method']}), predicted {_seconds(best['predicted_s'])}")
    return 0


def _validate_choices(args) -> int:
    from .chooser import TOLERANCE, choice_quality, validate_choices

    if not args.results:
        raise UsageError("--validate DIR needs --results DIR, the calibration to score")
    scores = validate_choices(Path(args.results), Path(args.validate))
    if scores.empty:
        raise UsageError(f"no validation case in {args.validate!r} has a backend calibrated in {args.results!r}")
    kinds = scores[["op", "mode", "dtype", "threads"]].drop_duplicates()
    kind = " ".join(map(str, kinds.iloc[0])) + " threads, " if len(kinds) == 1 else ""
    table = Table(title=f"chooser on {args.validate} ({kind}calibrated on {args.results})", title_justify="left")
    for column in ("case", "chosen", "fastest", "chosen / fastest", "ok"):
        table.add_column(column)
    for r in scores.to_dict("records"):
        case = f"{r['image_h']}x{r['image_w']} * {r['kernel_h']}x{r['kernel_w']}"
        table.add_row(
            case if kind else f"{r['op']} {r['mode']} {r['dtype']} {r['threads']}t {case}",
            r["chosen"],
            r["fastest"],
            f"{r['ratio']:.2f}",
            "yes" if r["good"] else "[red]no[/]",
        )
    console.print(table)
    overlap = int(scores["calibrated_size"].sum())
    if overlap:
        console.print(
            f"[yellow]note: {overlap} validation sizes were also calibrated; a fair validation avoids them[/]"
        )
    console.print(
        f"chooser picked the fastest or one within {TOLERANCE:.0%} in "
        f"{int(scores['good'].sum())}/{len(scores)} cases = {choice_quality(scores):.1%}"
    )
    return 0


def _seconds(value: float) -> str:
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value * 1e9:.3g} ns"


def _cmd_compare(args) -> int:
    from .compare import compare
    from .store import load_results

    frame_a, frame_b = load_results(Path(args.dir_a)), load_results(Path(args.dir_b))
    pair = args.backends or (None, None)
    for name, frame, where in ((pair[0], frame_a, args.dir_a), (pair[1], frame_b, args.dir_b)):
        if name is not None and not (frame["backend"] == name).any():
            have = ", ".join(sorted(frame["backend"].unique()))
            raise UsageError(f"--backends: {where!r} has no rows of backend {name!r}; it has {have}")
    result = compare(
        frame_a,
        frame_b,
        backend_a=pair[0],
        backend_b=pair[1],
        ignore=("threads",) if args.ignore_threads else (),
        alpha=args.alpha,
    )
    if result.cases.empty:
        raise UsageError(f"no case matches between {args.dir_a!r} and {args.dir_b!r}")
    table = Table(title=f"speedup = time in A / time in B   (A: {args.dir_a}, B: {args.dir_b})", title_justify="left")
    for column in ("backend", "case", "A", "B", "speedup", "p", "B is"):
        table.add_column(column)
    for r in result.cases.to_dict("records"):
        backend = r["backend_a"] if r["backend_a"] == r["backend_b"] else f"{r['backend_a']} -> {r['backend_b']}"
        colour = {"faster": "green", "slower": "red"}.get(r["verdict"], "default")
        table.add_row(
            backend,
            f"{r['op']} {r['mode']} {r['dtype']} {r['image_h']}x{r['image_w']} * {r['kernel_h']}x{r['kernel_w']}",
            _seconds(r["median_a"]),
            _seconds(r["median_b"]),
            f"{r['speedup']:.3f}",
            "-" if r["p_value"] != r["p_value"] else f"{r['p_value']:.3g}",
            f"[{colour}]{r['verdict']}[/]",
        )
    console.print(table)
    s = result.summary()
    counts = ", ".join(f"{s.get(v, 0)} {v}" for v in ("faster", "slower", "same", "no samples") if s.get(v))
    console.print(
        f"{s['cases']} matched cases ({counts}; Mann-Whitney U, alpha {args.alpha:g}); "
        f"{s['only_a']} only in A, {s['only_b']} only in B"
    )
    if "geomean_speedup" in s:
        console.print(
            f"geometric-mean speedup of B over A: {s['geomean_speedup']:.3f} "
            f"(95% bootstrap interval over cases {s['geomean_low']:.3f} .. {s['geomean_high']:.3f})"
        )
    if args.csv:
        result.cases.to_csv(args.csv, index=False)
        console.print(f"wrote {args.csv}")
    return 0


def _cmd_report(args) -> int:
    from .report import write_report

    console.print(f"wrote {write_report(Path(args.dir))}")
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

    from kernels import DTYPES, MODES, OPS

    choose = sub.add_parser("choose", help="the fastest backend for a size, predicted from a calibration run")
    choose.add_argument("--image", help="image size: N (N x N), HxW, or 1xL for a 1-D signal")
    choose.add_argument("--kernel", help="kernel size, as --image")
    choose.add_argument("--dtype", default="float32", choices=DTYPES)
    choose.add_argument("--op", default="corr", choices=OPS)
    choose.add_argument("--mode", default="same", choices=MODES)
    choose.add_argument("--threads", type=int, help="thread count (default: the largest calibrated)")
    choose.add_argument(
        "--results",
        help="calibration run (default: results/calibrate-OP-MODE-DTYPE or results/calibrate; "
        "when neither covers the query, configs/calibrate.toml is run first)",
    )
    choose.add_argument("--validate", metavar="DIR", help="score the chooser on the measured run DIR instead")
    choose.set_defaults(func=_cmd_choose)

    comp = sub.add_parser("compare", help="per-case speedup of run B over run A, with significance")
    comp.add_argument("dir_a", help="results directory A (the baseline)")
    comp.add_argument("dir_b", help="results directory B (may be A itself with --backends)")
    comp.add_argument("--backends", nargs=2, metavar=("NAME_A", "NAME_B"), help="compare NAME_A in A with NAME_B in B")
    comp.add_argument("--ignore-threads", action="store_true", help="match cases across thread counts (machines)")
    comp.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    comp.add_argument("--csv", help="also write the per-case table to this CSV file")
    comp.set_defaults(func=_cmd_compare)

    report = sub.add_parser("report", help="write DIR/report.md: machine, crossovers, model fits, plots")
    report.add_argument("dir", help="results directory")
    report.set_defaults(func=_cmd_report)
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
