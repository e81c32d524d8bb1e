"""``convbench calibrate``: a chooser calibration that measures where the choice is close (adaptive sampling)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from kernels import DTYPES, MODES, OPS

from ..analyse.adaptive import COARSE_IMAGES, COARSE_KERNELS, unsure_sizes
from ..analyse.chooser import calibration_config
from ..errors import UsageError
from ..plan.cases import Case
from ..present.plots import plot_all
from ..store.tables import load_results
from ..sweep.orchestrate import run_sweep
from ._console import DEFAULT_RESULTS, RichProgress, console, progress_bar


def add_parser(sub) -> None:
    calibrate = sub.add_parser(
        "calibrate",
        help="calibrate the chooser adaptively: a coarse grid, then rounds of sizes where the choice is close",
    )
    calibrate.add_argument("--out", help="results directory (default: results/calibrate-adaptive-OP-MODE-DTYPE)")
    calibrate.add_argument("--op", default="corr", choices=OPS)
    calibrate.add_argument("--mode", default="same", choices=MODES)
    calibrate.add_argument("--dtype", default="float32", choices=DTYPES)
    calibrate.add_argument("--rounds", type=int, default=3, help="refinement rounds after the coarse grid (default 3)")
    calibrate.add_argument("--points", type=int, default=8, help="sizes measured per round at most (default 8)")
    calibrate.set_defaults(func=main)


def cases_at(template: Case, sizes: list[tuple[int, int]]) -> tuple[Case, ...]:
    """``template`` (op, mode, dtype, threads, inputs) at each square ``(image, kernel)`` size."""
    return tuple(
        dataclasses.replace(
            template, problem=dataclasses.replace(template.problem, image_shape=(i, i), kernel_shape=(k, k))
        )
        for i, k in sizes
    )


def coarse_grid(config_sizes, coarse) -> tuple[int, ...]:
    """``coarse`` clipped to the range of ``config_sizes`` (calibrate.toml's), with that range's ends added."""
    low, high = min(config_sizes), max(config_sizes)
    return tuple(sorted({low, high, *(c for c in coarse if low <= c <= high)}))


def calibrate_adaptively(op: str, mode: str, dtype: str, out: Path, rounds: int = 3, points: int = 8, progress=None):
    """Measure a coarse grid, then up to ``rounds`` rounds of ``points`` sizes where the choice is close, into ``out``.

    Backends, threads, timing and the range of sizes come from ``configs/calibrate.toml``
    (:func:`harness.analyse.chooser.calibration_config`); the coarse grid is
    :data:`~harness.analyse.adaptive.COARSE_IMAGES` x ``COARSE_KERNELS`` within
    that range, and its ends. ``progress(text)`` hears about each round.
    Returns the seconds it took.

    Raises
    ------
    UsageError
        If calibrate.toml has several thread counts, or the run is interrupted.
    """
    note = progress or console.print
    base = calibration_config(op, mode, dtype)
    if len({c.problem.threads for c in base.cases}) != 1:
        raise UsageError("an adaptive calibration needs one thread count in configs/calibrate.toml")
    images = coarse_grid([c.problem.image_shape[0] for c in base.cases], COARSE_IMAGES)
    kernels = coarse_grid([c.problem.kernel_shape[0] for c in base.cases], COARSE_KERNELS)
    coarse = [(i, k) for i in images for k in kernels if k <= i]
    template = base.cases[0]
    config = dataclasses.replace(base, name=out.name, cases=cases_at(template, coarse))
    history = {"coarse": [list(s) for s in coarse], "rounds": []}
    started = time.monotonic()
    for round_ in range(rounds + 1):
        if round_:
            sizes = unsure_sizes(load_results(out), op=op, mode=mode, dtype=dtype, limit=points)
            if not sizes:
                note(f"round {round_}: no size left where the choice is close; done")
                break
            history["rounds"].append([list(s) for s in sizes])
            config = dataclasses.replace(config, cases=config.cases + cases_at(template, sizes))
            note(f"round {round_}: {len(sizes)} sizes where the choice is close: "
                 + ", ".join(f"{i}*{k}" for i, k in sizes))
        config = dataclasses.replace(config, source={**config.source, "adaptive": history})
        with progress_bar(transient=True) as bar:
            result = run_sweep(config, out, resume=round_ > 0, progress=RichProgress(bar))
        if result.interrupted:
            raise UsageError(
                f"calibration interrupted; start it over with: convbench calibrate --op {op} --mode {mode} "
                f"--dtype {dtype} --out {out}"
            )
    return time.monotonic() - started


def main(args) -> int:
    if args.rounds < 0 or args.points < 1:
        raise UsageError(f"--rounds must be >= 0 and --points >= 1 (got {args.rounds} and {args.points})")
    out = Path(args.out or DEFAULT_RESULTS / f"calibrate-adaptive-{args.op}-{args.mode}-{args.dtype}")
    seconds = calibrate_adaptively(args.op, args.mode, args.dtype, out, args.rounds, args.points)
    frame = load_results(out)
    plot_all(frame, out)
    console.print(
        f"calibrated {frame[['image_h', 'kernel_h']].drop_duplicates().shape[0]} sizes in "
        f"{seconds:.0f} s into {out}; use it with: convbench choose --results {out}"
    )
    return 0
