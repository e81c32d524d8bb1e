"""``convbench compare A B``: per-case speedup of run B over run A, with significance and a geometric mean."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ..analyse.compare import compare
from ..errors import UsageError
from ..store.tables import load_results
from ._console import console, seconds


def add_parser(sub) -> None:
    comp = sub.add_parser("compare", help="per-case speedup of run B over run A, with significance")
    comp.add_argument("dir_a", help="results directory A (the baseline)")
    comp.add_argument("dir_b", help="results directory B (may be A itself with --backends)")
    comp.add_argument("--backends", nargs=2, metavar=("NAME_A", "NAME_B"), help="compare NAME_A in A with NAME_B in B")
    comp.add_argument("--ignore-threads", action="store_true", help="match cases across thread counts (machines)")
    comp.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    comp.add_argument("--csv", help="also write the per-case table to this CSV file")
    comp.set_defaults(func=main)


def main(args) -> int:
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
            seconds(r["median_a"]),
            seconds(r["median_b"]),
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
