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


def main(args) -> int:
    if args.rounds < 0 or args.points < 1:
        raise UsageError(f"--rounds must be >= 0 and --points >= 1 (got {args.rounds} and {args.points})")
    out = Path(args.out or DEFAULT_RESULTS / f"calibrate-adaptive-{args.op}-{args.mode}-{args.dtype}")
    base = calibration_config(args.op, args.mode, args.dtype)
    if len({c.problem.threads for c in base.cases}) != 1:
        raise UsageError("an adaptive calibration needs one thread count in configs/calibrate.toml")
    coarse = [(i, k) for i in COARSE_IMAGES for k in COARSE_KERNELS if k <= i]
    template = base.cases[0]
    config = dataclasses.replace(base, name=out.name, cases=cases_at(template, coarse))
    history = {"coarse": [list(s) for s in coarse], "rounds": []}
    started = time.monotonic()
    for round_ in range(args.rounds + 1):
        if round_:
            sizes = unsure_sizes(load_results(out), op=args.op, mode=args.mode, dtype=args.dtype, limit=args.points)
            if not sizes:
                console.print(f"round {round_}: no size left where the choice is close; done")
                break
            history["rounds"].append([list(s) for s in sizes])
            config = dataclasses.replace(config, cases=config.cases + cases_at(template, sizes))
            console.print(f"round {round_}: {len(sizes)} sizes where the choice is close: "
                          + ", ".join(f"{i}*{k}" for i, k in sizes))
        config = dataclasses.replace(config, source={**config.source, "adaptive": history})
        with progress_bar(transient=True) as bar:
            result = run_sweep(config, out, resume=round_ > 0, progress=RichProgress(bar))
        if result.interrupted:
            raise UsageError(f"calibration interrupted; run the same command again to start over ({out})")
    frame = load_results(out)
    plot_all(frame, out)
    console.print(
        f"calibrated {frame[['image_h', 'kernel_h']].drop_duplicates().shape[0]} sizes in "
        f"{time.monotonic() - started:.0f} s into {out}; use it with: convbench choose --results {out}"
    )
    return 0
