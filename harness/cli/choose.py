"""``convbench choose``: the fastest backend for a size, predicted from a calibration run; ``--validate`` scores it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.table import Table

from kernels import DTYPES, MODES, OPS, Problem

from ..analyse.chooser import (
    MEASURE_WITHIN,
    choose,
    machine_rows,
    outside_calibration,
    too_close_to_call,
)
from ..analyse.derived import cost_of_calls, one_time_seconds
from ..analyse.regret import CHOOSERS, regret_summary, validate_choices
from ..errors import UsageError
from ..machine.fingerprint import metadata_machine, this_machine
from ..measure.case import run_case
from ..plan.cases import Case, Timing
from ..present.plots import plot_regret
from ..schema import TABLE
from ..store.tables import load_results, read_metadata
from ._console import (
    DEFAULT_RESULTS,
    add_json_flag,
    console,
    parse_shape,
    print_json,
    seconds,
)
from .calibrate import calibrate_adaptively


def add_parser(sub) -> None:
    choose = sub.add_parser("choose", help="the fastest backend for a size, predicted from a calibration run")
    choose.add_argument("--image", help="image size: N (N x N), HxW, or 1xL for a 1-D signal")
    choose.add_argument("--kernel", help="kernel size, as --image")
    choose.add_argument("--dtype", default="float32", choices=DTYPES)
    choose.add_argument("--op", default="corr", choices=OPS)
    choose.add_argument("--mode", default="same", choices=MODES)
    choose.add_argument("--threads", type=int, help="thread count (default: the largest calibrated)")
    choose.add_argument(
        "--results",
        help="calibration run (default: results/calibrate-adaptive-OP-MODE-DTYPE from convbench calibrate, "
        "results/calibrate-OP-MODE-DTYPE or results/calibrate; "
        "when neither covers the query, configs/calibrate.toml is run first)",
    )
    choose.add_argument("--validate", metavar="DIR", help="score the chooser on the measured run DIR instead")
    choose.add_argument(
        "--machine",
        metavar="ID",
        help="use the calibration rows of machine ID (the `machine` column) even though they were measured on "
        "another machine; by default only this machine's rows are used",
    )
    choose.add_argument(
        "--calls",
        type=int,
        help="how many calls you will make at this size: include one-time costs (compile, plan, first call)",
    )
    choose.add_argument(
        "--no-measure",
        action="store_true",
        help="trust the models even when the two best predictions are too close to call; with --validate, "
        "leave out scipy's measuring chooser (it times every case here)",
    )
    add_json_flag(choose)
    choose.set_defaults(func=main)


def _calibration_dir(op: str, mode: str, dtype: str) -> Path:
    """An existing calibration run that covers the query, or a new adaptive one (run now)."""
    own = DEFAULT_RESULTS / f"calibrate-{op}-{mode}-{dtype}"
    adaptive = DEFAULT_RESULTS / f"calibrate-adaptive-{op}-{mode}-{dtype}"  # convbench calibrate's
    for candidate in (adaptive, own, DEFAULT_RESULTS / "calibrate"):
        if (candidate / TABLE).exists():
            try:
                frame, _ = machine_rows(load_results(candidate), read_metadata(candidate), this_machine())
            except UsageError as exc:
                console.print(f"[yellow]not using {candidate}: {exc}[/]")
                continue
            ok = frame[frame["status"] == "ok"]
            if ((ok["dtype"] == dtype) & (ok["op"] == op) & (ok["mode"] == mode)).any():
                return candidate
    console.print(
        f"no calibration for {op} {mode} {dtype} under {DEFAULT_RESULTS}/: calibrating now into {adaptive} "
        "(configs/calibrate.toml's backends, threads and sizes: a coarse grid, then up to 3 rounds of sizes where "
        "the choice is close; a few minutes)"
    )
    calibrate_adaptively(op, mode, dtype, adaptive)
    return adaptive


def main(args) -> int:
    if args.validate:
        return _validate_choices(args)
    if not args.image or not args.kernel:
        raise UsageError("choose needs --image and --kernel (or --validate DIR with --results DIR)")
    image, kernel = parse_shape(args.image, "image"), parse_shape(args.kernel, "kernel")
    results = Path(args.results) if args.results else _calibration_dir(args.op, args.mode, args.dtype)
    rows, machine_note = machine_rows(
        load_results(results), read_metadata(results), this_machine(), args.machine, str(results)
    )
    ranked = choose(
        image,
        kernel,
        results=rows,
        dtype=args.dtype,
        op=args.op,
        mode=args.mode,
        threads=args.threads,
        calls=args.calls,
    )
    notes = [n for n in (ranked["note"].iloc[0], outside_calibration(rows, image, kernel), machine_note) if n]
    pick, measured = ranked["backend"].iloc[0], None
    if too_close_to_call(ranked) and not args.no_measure:
        measured = _measure_pair(ranked, image, kernel, args)
        pick = min(measured, key=measured.get)
        notes.append(
            f"{' and '.join(measured)} were predicted within {MEASURE_WITHIN:.0%} of each other: "
            f"measured both here instead of guessing ({', '.join(f'{b} {seconds(t)}' for b, t in measured.items())})"
        )
    if args.json:
        print_json({"pick": pick, "measured": measured, "notes": notes, "ranked": ranked.to_dict("records")})
        return 0
    best = ranked.iloc[0]
    what = "per call" if args.calls is None else f"for {args.calls} calls, one-time costs included"
    table = Table(
        title=f"{args.op} {args.mode} {args.dtype}, image {image[0]}x{image[1]}, kernel {kernel[0]}x{kernel[1]}, "
        f"{best['threads']} threads, {what} (calibration: {results})",
        title_justify="left",
    )
    for column in ("backend", "method", "predicted", "model alone", "one-time", "total", "vs fastest"):
        table.add_column(column)
    for r in ranked.to_dict("records"):
        table.add_row(
            r["backend"],
            r["method"],
            seconds(r["predicted_s"]),
            seconds(r["model_s"]),
            seconds(r["one_time_s"]) if r["one_time_s"] > 0 else "-",
            seconds(r["total_s"]),
            f"{r['total_s'] / best['total_s']:.2f}x",
        )
    console.print(table)
    for note in notes:
        console.print(f"[yellow]note: {note}[/]")
    method = ranked.set_index("backend").loc[pick, "method"]
    console.print(f"fastest: [bold]{pick}[/] ({method}){' (measured)' if measured else ''}")
    return 0


def _measure_pair(ranked, image, kernel, args) -> dict[str, float]:
    """The two closest candidates timed on the query itself (per call, or for ``--calls`` with one-time costs)."""
    pair = list(ranked["backend"].iloc[:2])
    threads = int(ranked["threads"].iloc[0])
    problem = Problem(args.op, args.mode, image, kernel, args.dtype, threads)
    rows = run_case(Case(problem), pair, Timing(samples=5, min_sample_seconds=0.002))
    frame = pd.DataFrame(rows)
    if not (frame["status"] == "ok").all():
        failed = frame[frame["status"] != "ok"].iloc[0]
        raise UsageError(f"measuring {failed['backend']} failed: {failed['status']} {failed['reason']}")
    once = one_time_seconds(frame)
    per_call = frame["median_s"].to_numpy(float)
    total = cost_of_calls(per_call, once, args.calls)
    return dict(zip(frame["backend"], map(float, total)))


def _validate_choices(args) -> int:
    if not args.results:
        raise UsageError("--validate DIR needs --results DIR, the calibration to score")
    validation = load_results(args.validate)
    measured_on = validation["machine"].dropna().unique()
    if len(measured_on) > 1:
        raise UsageError(f"--validate {args.validate!r} holds several machines; validate one machine's run")
    here = metadata_machine(read_metadata(args.validate)) if len(measured_on) else this_machine()
    calibration, note = machine_rows(
        load_results(args.results), read_metadata(args.results), here, args.machine, str(args.results)
    )
    if note:
        console.print(f"[yellow]note: {note}[/]")
    scipy_measure = not args.no_measure and _same_hardware(here[1], this_machine()[1])
    if not scipy_measure and not args.no_measure:
        console.print(
            f"[yellow]note: {args.validate} was measured on another machine: scipy's measuring chooser "
            "(which times here and now) is left out[/]"
        )
    scores = validate_choices(calibration, validation, calls=args.calls, scipy_measure=scipy_measure)
    if scores.empty:
        raise UsageError(f"no validation case in {args.validate!r} has a backend calibrated in {args.results!r}")
    summary = regret_summary(scores)
    if args.json:
        print_json({"summary": summary.to_dict("records"), "cases": scores.to_dict("records")})
        return 0
    kinds = scores[["op", "mode", "dtype", "threads"]].drop_duplicates()
    kind = " ".join(map(str, kinds.iloc[0])) + " threads, " if len(kinds) == 1 else ""
    what = "per call" if args.calls is None else f"{args.calls} calls with one-time costs"
    table = Table(
        title=f"regret = cost of the pick / cost of the fastest, {what} ({args.validate}, {kind}"
        f"calibrated on {args.results})",
        title_justify="left",
    )
    choosers = [c for c in CHOOSERS[1:] if f"{c}: regret" in scores]
    for column in ("case", "fastest", "convbench", "regret", *choosers):
        table.add_column(column)
    for r in scores.to_dict("records"):
        case = f"{r['image_h']}x{r['image_w']} * {r['kernel_h']}x{r['kernel_w']}"
        pick = r["convbench: pick"] + (" (measured)" if r["measured"] else "")
        colour = "red" if r["convbench: regret"] > 1.15 else "default"
        others = [_regret_cell(r, c) for c in choosers]
        table.add_row(
            case if kind else f"{r['op']} {r['mode']} {r['dtype']} {r['threads']}t {case}",
            r["fastest"],
            pick,
            f"[{colour}]{r['convbench: regret']:.2f}[/]",
            *others,
        )
    console.print(table)
    totals = Table(title="regret per chooser on the same cases", title_justify="left")
    for column in ("chooser", "cases", "median", "95th percentile", "max", "picked the fastest"):
        totals.add_column(column)
    for r in summary.to_dict("records"):
        totals.add_row(
            r["chooser"],
            str(r["cases"]),
            f"{r['median']:.3f}",
            f"{r['p95']:.3f}",
            f"{r['max']:.2f}",
            f"{r['fastest_share']:.0%}",
        )
    console.print(totals)
    if "scipy measure: seconds" in scores:
        spent = scores["scipy measure: seconds"]
        console.print(
            f"scipy's measuring chooser spent {spent.sum():.1f} s timing {len(spent)} cases here "
            f"(median {spent.median():.2f} s, max {spent.max():.1f} s per case): charged with --calls N"
        )
    console.print(f"wrote {plot_regret(scores, Path(args.validate) / 'regret.png')}")
    overlap = int(scores["calibrated_size"].sum())
    if overlap:
        console.print(
            f"[yellow]note: {overlap} validation sizes were also calibrated; a fair validation avoids them[/]"
        )
    return 0


def _same_hardware(a: dict, b: dict) -> bool:
    """Two fingerprints of one kind of machine: same CPU model and cores (library versions may differ)."""
    return all(a.get(k) == b.get(k) for k in ("cpu_model", "usable_cores"))


def _regret_cell(record: dict, chooser: str) -> str:
    regret = record.get(f"{chooser}: regret")
    return "-" if regret is None or regret != regret else f"{regret:.2f}"
