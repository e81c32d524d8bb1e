"""Issue 3's speed goals for the direct CPU loops, measured in one run.

    .venv/bin/python bench/direct_cpu.py [--threads 2] [--size 1024]

Prints, for a 1024x1024 image, corr, modes valid and same:
  1. numba-cpu vs OpenCV cv2.filter2D throughput, kernels 3..9 (float32; goal >= 1.5x);
  2. numba-cpu as a fraction of numpy's matmul rate, kernels 15, 25, 41
     (float32 and float64, each against its own matmul; goal >= 50%);
  3. 2 threads vs 1 thread, images 512 and 1024, valid and same (goal >= 1.8x),
     beside a parallel copy of the same image: the speed-up the host's memory
     system allows a call that moves that much data;
  4. conv vs corr time (goal within 5%).
Backends of a case are timed in interleaved rounds by the harness, and each
case runs three times, keeping each backend's best median (a burst of load from
other tenants can halve one case's speed on a shared host); cases compared with
each other (1 vs 2 threads, corr vs conv) take their runs in turn; the matmul rates
are measured last, best of three, with BLAS limited to the same thread count.
"""

from __future__ import annotations

import argparse

import numba
import numpy as np
from _runs import rows_by_backend  # first: applies the thread settings

from harness.machine.peaks import measure_matmul_gflops
from harness.measure.timing import calibrate_loops, time_call
from harness.plan.cases import Timing
from kernels import PreparedBase, Problem
from kernels._parallel import parallel_copy

TIMING = Timing(samples=7, warmup=2, min_sample_seconds=0.02, max_case_seconds=0)


# Each case runs this many times and keeps each backend's best median: on a
# shared host a burst of outside load can slow one whole case by 2x.
REPEATS = 3


def _median(problem: Problem, backends: list[str]) -> dict[str, dict]:
    """Each backend's best median over REPEATS runs of the case (backends interleaved within a run)."""
    return _best_alternating([problem], backends)[0]


def _best_alternating(problems: list[Problem], backends: list[str]) -> list[dict[str, dict]]:
    """Like :func:`_median` for several problems whose times are compared, run in turn
    REPEATS times, so that a burst of outside load does not land on one of them only."""
    best = [{} for _ in problems]
    for _ in range(REPEATS):
        for kept, problem in zip(best, problems):
            for name, row in rows_by_backend(problem, backends, TIMING).items():
                if name not in kept or row["median_s"] < kept[name]["median_s"]:
                    kept[name] = row
    return best


class _ParallelCopy(PreparedBase):
    """``parallel_copy`` of a size x size float32 image, as a prepared case the harness's timer can run."""

    def __init__(self, size: int):
        super().__init__()
        self.src = np.random.default_rng(0).random((size, size), dtype=np.float32)
        self.dst = np.empty_like(self.src)

    def __call__(self) -> None:
        parallel_copy(self.dst, self.src)


def _copy_times(size: int, threads: int) -> tuple[float, float]:
    """Best median time of a parallel copy of a size x size float32 image on 1 and on ``threads`` threads,
    timed like the cases (the harness's calibrated loops, TIMING's samples)."""
    copy = _ParallelCopy(size)
    best = {1: float("inf"), threads: float("inf")}
    for _ in range(REPEATS):
        for n in best:
            numba.set_num_threads(n)
            loops = calibrate_loops(time_call(copy), TIMING.min_sample_seconds)
            samples = [time_call(copy, loops) for _ in range(TIMING.samples)]
            best[n] = min(best[n], float(np.median(samples)))
    return best[1], best[threads]


def _row(cells, widths) -> str:
    return "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    n, t = args.size, args.threads
    lines = []

    widths = (6, 6, 14, 12, 8, 6)
    lines.append(f"1. numba-cpu vs cv2.filter2D, {n}x{n} float32, {t} threads (goal >= 1.5x)")
    lines.append(_row(("mode", "kernel", "numba GFLOP/s", "cv2 GFLOP/s", "ratio", "goal"), widths))
    for mode in ("valid", "same"):
        for k in (3, 5, 7, 9):
            rows = _median(Problem("corr", mode, (n, n), (k, k), "float32", t), ["numba-cpu", "opencv"])
            ratio = rows["opencv"]["median_s"] / rows["numba-cpu"]["median_s"]
            lines.append(_row((mode, k, f"{rows['numba-cpu']['gflops']:.1f}", f"{rows['opencv']['gflops']:.1f}",
                               f"{ratio:.2f}x", "ok" if ratio >= 1.5 else "MISS"), widths))

    large = {}
    for dtype in ("float32", "float64"):
        for mode in ("valid", "same"):
            for k in (15, 25, 41):
                large[dtype, mode, k] = _median(Problem("corr", mode, (n, n), (k, k), dtype, t), ["numba-cpu"])

    scaling = []
    for mode in ("valid", "same"):
        for size in (512, 1024):
            for k in (3, 9, 25):
                one, two = _best_alternating([Problem("corr", mode, (size, size), (k, k), "float32", threads)
                                              for threads in (1, t)], ["numba-cpu"])
                scaling.append((mode, size, k, one["numba-cpu"]["median_s"], two["numba-cpu"]["median_s"]))
    for size in (512, 1024):
        scaling.append(("copy", size, "-", *_copy_times(size, t)))

    flips = []
    for mode in ("valid", "same"):
        for k in (3, 9, 25):
            corr, conv = _best_alternating([Problem(op, mode, (n, n), (k, k), "float32", t)
                                            for op in ("corr", "conv")], ["numba-cpu"])
            flips.append((mode, k, corr["numba-cpu"]["median_s"], conv["numba-cpu"]["median_s"]))

    peaks = {d: measure_matmul_gflops(d, t) for d in ("float32", "float64")}
    lines.append("")
    lines.append(f"2. numba-cpu vs numpy matmul 2048^3 ({t} threads): float32 {peaks['float32']:.1f} GFLOP/s, "
                 f"float64 {peaks['float64']:.1f} GFLOP/s (goal >= 50%)")
    widths = (8, 6, 6, 14, 10, 6)
    lines.append(_row(("dtype", "mode", "kernel", "numba GFLOP/s", "of peak", "goal"), widths))
    for (dtype, mode, k), rows in large.items():
        fraction = rows["numba-cpu"]["gflops"] / peaks[dtype]
        lines.append(_row((dtype, mode, k, f"{rows['numba-cpu']['gflops']:.1f}", f"{100 * fraction:.0f}%",
                           "ok" if fraction >= 0.5 else "MISS"), widths))

    lines.append("")
    lines.append(f"3. {t} threads vs 1, corr float32 (goal >= 1.8x)")
    widths = (6, 6, 6, 10, 10, 8, 6)
    lines.append(_row(("mode", "image", "kernel", "1t ms", f"{t}t ms", "speedup", "goal"), widths))
    for mode, size, k, one, two in scaling:
        goal = "ref" if mode == "copy" else "ok" if one / two >= 1.8 else "MISS"
        lines.append(_row((mode, size, k, f"{1e3 * one:.3f}", f"{1e3 * two:.3f}", f"{one / two:.2f}x", goal), widths))

    lines.append("")
    lines.append(f"4. conv vs corr, {n}x{n} float32, {t} threads (goal within 5%)")
    widths = (6, 6, 10, 10, 9, 6)
    lines.append(_row(("mode", "kernel", "corr ms", "conv ms", "conv/corr", "goal"), widths))
    for mode, k, corr, conv in flips:
        lines.append(_row((mode, k, f"{1e3 * corr:.3f}", f"{1e3 * conv:.3f}", f"{conv / corr:.3f}",
                           "ok" if abs(conv / corr - 1) <= 0.05 else "MISS"), widths))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
