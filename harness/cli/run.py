"""``convbench run CONFIG``: run a sweep; writes the table, the plots and a summary."""

from __future__ import annotations

from pathlib import Path

from kernels import get_backend

from ..errors import UsageError
from ..machine.state import collect_machine_state, tuning_warnings
from ..plan.config import load_config, parse_cluster
from ..present.plots import plot_all
from ..present.summary import status_counts, summary_tables
from ..schema import TABLE
from ..store.tables import load_results
from ..sweep.orchestrate import run_sweep
from ._console import DEFAULT_RESULTS, RichProgress, add_format_flag, console, progress_bar


def add_parser(sub) -> None:
    run = sub.add_parser("run", help="run a sweep config; writes tables and plots")
    run.add_argument("config", help="TOML sweep config, e.g. configs/quick.toml")
    run.add_argument("--out", help="results directory (default results/<config name>)")
    run.add_argument("--resume", action="store_true", help="continue a sweep in --out, skipping finished cases")
    run.add_argument(
        "--no-isolate",
        action="store_true",
        help="run backends in this process (for debugging; a crash then ends the sweep)",
    )
    run.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help="run the cases on a Dask cluster: 'local' (a LocalCluster, for trying it out), a scheduler "
        "address (tcp://head:8786) or a batch system (slurm, pbs...); [cluster] in the config sets the rest",
    )
    add_format_flag(run)
    run.set_defaults(func=main)


def main(args) -> int:
    config = load_config(args.config)
    out_dir = Path(args.out) if args.out else DEFAULT_RESULTS / config.name
    if args.resume and not args.out and not out_dir.exists():
        raise UsageError(f"--resume: {str(out_dir)!r} does not exist; name the directory with --out")
    for warning in tuning_warnings(collect_machine_state()):
        console.print(f"[yellow]machine not tuned for benchmarking: {warning}[/]")
    for name in config.backends:
        ok, reason = get_backend(name).available()
        if not ok:
            console.print(f"[yellow]backend {name} is unavailable and will be skipped: {reason}[/]")
    cluster = None
    if args.cluster is not None:
        cluster = parse_cluster(config.source.get("cluster", {}), address=args.cluster)
    with progress_bar(transient=False) as bar:
        result = run_sweep(
            config,
            out_dir,
            resume=args.resume,
            progress=RichProgress(bar),
            isolate=not args.no_isolate,
            cluster=cluster,
        )
    if result.archived:
        console.print(f"the earlier run in {out_dir} was moved to {result.archived}")
    if result.parts:  # a fleet: one run per host
        for part in result.parts:
            _show(load_results(part), part, f"{config.name} on {part.name}", args.format)
        console.print(
            f"one run per host under {out_dir}; put them side by side with: "
            f"convbench merge {' '.join(str(p) for p in result.parts)} --out {out_dir / 'merged'}"
        )
    else:
        _show(result.frame, out_dir, config.name, args.format)
    if result.interrupted:
        console.print(
            f"[yellow]interrupted; finished cases are saved. Resume with:[/] "
            f"convbench run {args.config} --out {out_dir} --resume"
        )
        return 130
    return 0


def _show(frame, out_dir: Path, title: str, formats) -> None:
    """Print where the table is, draw the plots and print the summary tables of one run."""
    console.print(f"{len(frame)} rows ({status_counts(frame)}) in {out_dir / TABLE}")
    if (frame["status"] == "ok").any():
        for path in plot_all(frame, out_dir, title=title, formats=formats):
            console.print(f"wrote {path}")
        for table in summary_tables(frame):
            console.print(table)
