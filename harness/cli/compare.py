"""``convbench compare A B``: per-case speedup of run B over run A, with significance and a geometric mean."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from ..analyse.compare import compare, environment_differences, regressions
from ..errors import UsageError
from ..store.tables import load_results, read_metadata
from ._console import add_json_flag, console, percent, print_json, seconds


def add_parser(sub) -> None:
    comp = sub.add_parser("compare", help="per-case speedup of run B over run A, with significance")
    comp.add_argument("dir_a", help="results directory A (the baseline)")
    comp.add_argument("dir_b", help="results directory B (may be A itself with --backends)")
    comp.add_argument("--backends", nargs=2, metavar=("NAME_A", "NAME_B"), help="compare NAME_A in A with NAME_B in B")
    comp.add_argument("--ignore-threads", action="store_true", help="match cases across thread counts (machines)")
    comp.add_argument(
        "--alpha", type=float, default=0.05, help="false discovery rate of the verdicts (default 0.05)"
    )
    comp.add_argument(
        "--fail-slower",
        type=percent,
        metavar="PCT",
        help="exit 1 when a case of B is significantly slower than A by more than PCT (e.g. 5%%): for CI",
    )
    comp.add_argument(
        "--across-machines",
        action="store_true",
        help="compare runs from different machines (refused otherwise: their times are not comparable)",
    )
    comp.add_argument("--csv", help="also write the per-case table to this CSV file")
    add_json_flag(comp)
    comp.set_defaults(func=main)


def main(args) -> int:
    frame_a, frame_b = load_results(Path(args.dir_a)), load_results(Path(args.dir_b))
    differences = environment_differences(read_metadata(Path(args.dir_a)), read_metadata(Path(args.dir_b)))
    if differences["machine"] and not args.across_machines:
        raise UsageError(
            f"{args.dir_a!r} and {args.dir_b!r} come from different machines ({'; '.join(differences['machine'])}); "
            "pass --across-machines to compare them anyway"
        )
    warnings = [f"different machines: {'; '.join(differences['machine'])}"] if differences["machine"] else []
    if differences["versions"]:
        warnings.append(f"different library versions: {'; '.join(differences['versions'])}")
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
    by_samples = int((result.cases["test"] == "samples").sum())
    if by_samples:
        warnings.append(
            f"{by_samples} case(s) tested sample by sample: a run side measured them in one visit, so the test "
            "assumes the machine held still between the runs; measure with timing.visits >= 2 (see README)"
        )
    slower = regressions(result.cases, args.fail_slower) if args.fail_slower is not None else result.cases[:0]
    if args.csv:
        result.cases.to_csv(args.csv, index=False)
    if args.json:
        print_json(
            {
                "summary": result.summary(),
                "warnings": warnings,
                "fail_slower": args.fail_slower,
                "regressions": len(slower),
                "cases": result.cases.to_dict("records"),
            }
        )
        return 1 if len(slower) else 0
    _print_table(args, result)
    for warning in warnings:
        console.print(f"[yellow]warning: {warning}[/]")
    if args.csv:
        console.print(f"wrote {args.csv}")
    if args.fail_slower is not None:
        if len(slower):
            console.print(
                f"[red]{len(slower)} case(s) of B significantly slower than A by more than {args.fail_slower:.0%}[/]"
            )
            return 1
        console.print(f"no case of B significantly slower than A by more than {args.fail_slower:.0%}")
    return 0


TEST_NAMES = {"visits": "Welch's t on the visit medians", "samples": "Mann-Whitney U on the samples"}


def _print_table(args, result) -> None:
    table = Table(title=f"speedup = time in A / time in B   (A: {args.dir_a}, B: {args.dir_b})", title_justify="left")
    for column in ("backend", "case", "A", "B", "speedup", "test", "p", "q", "B is"):
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
            r["test"] or "-",
            "-" if r["p_value"] != r["p_value"] else f"{r['p_value']:.3g}",
            "-" if r["q_value"] != r["q_value"] else f"{r['q_value']:.3g}",
            f"[{colour}]{r['verdict']}[/]",
        )
    console.print(table)
    s = result.summary()
    verdicts = ("faster", "slower", "same", "not quiet", "no samples")
    counts = ", ".join(f"{s.get(v, 0)} {v}" for v in verdicts if s.get(v))
    used = result.cases["test"].value_counts().to_dict() if len(result.cases) else {}
    how = " and ".join(f"{TEST_NAMES[t]} on {n}" for t, n in used.items() if t in TEST_NAMES) or "no test"
    console.print(
        f"{s['cases']} matched cases ({counts}; {how}, false discovery rate {args.alpha:g}); "
        f"{s['only_a']} only in A, {s['only_b']} only in B"
    )
    if "geomean_speedup" in s:
        console.print(
            f"geometric-mean speedup of B over A: {s['geomean_speedup']:.3f} "
            f"(95% bootstrap interval over cases {s['geomean_low']:.3f} .. {s['geomean_high']:.3f})"
        )
