"""``convbench choose``: the fastest backend for a size, predicted from a calibration run; ``--validate`` scores it."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from kernels import DTYPES, MODES, OPS

from ..analyse.chooser import (
    TOLERANCE,
    calibration_config,
    choice_quality,
    choose,
    outside_calibration,
    validate_choices,
)
from ..errors import UsageError
from ..schema import TABLE
from ..store.tables import load_results
from ..sweep.orchestrate import run_sweep
from ._console import DEFAULT_RESULTS, RichProgress, console, parse_shape, progress_bar, seconds


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
        help="calibration run (default: results/calibrate-OP-MODE-DTYPE or results/calibrate; "
        "when neither covers the query, configs/calibrate.toml is run first)",
    )
    choose.add_argument("--validate", metavar="DIR", help="score the chooser on the measured run DIR instead")
    choose.set_defaults(func=main)


def _calibration_dir(op: str, mode: str, dtype: str) -> Path:
    """An existing calibration run that covers the query, or a new one (run now)."""
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
    with progress_bar(transient=True) as bar:
        result = run_sweep(config, own, progress=RichProgress(bar))
    if result.interrupted:
        raise UsageError(
            f"calibration interrupted; resume it with: convbench run configs/calibrate.toml --out {own} --resume"
        )
    return own


def main(args) -> int:
    if args.validate:
        return _validate_choices(args)
    if not args.image or not args.kernel:
        raise UsageError("choose needs --image and --kernel (or --validate DIR with --results DIR)")
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
            seconds(r["predicted_s"]),
            seconds(r["model_s"]),
            f"{r['predicted_s'] / best['predicted_s']:.2f}x",
        )
    console.print(table)
    for note in filter(None, [best["note"], outside_calibration(results, image, kernel)]):
        console.print(f"[yellow]note: {note}[/]")
    console.print(f"fastest: [bold]{best['backend']}[/] ({best['method']}), predicted {seconds(best['predicted_s'])}")
    return 0


def _validate_choices(args) -> int:
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
