"""Issue 4's speed goals for the FFT backends, measured in one run.

    .venv/bin/python bench/fft.py [--threads 2]

Prints, for float32 corr 'same' at images 512, 1024, 2048 and kernels 15, 31, 63:
  1. fftw vs scipy.signal.fftconvolve with the same workers (goal >= 1.3x);
  2. fftw's timed call vs its three raw FFTW executions back to back (goal <= 1.15x);
  3. plan_s with the wisdom file present vs without, two fresh processes (goal <= 10%);
  4. fftw-oa vs fftw at 2048x2048, kernels 3 to 63 (goal: faster up to 15).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from _runs import rows_by_backend  # first: applies the thread settings

from harness.plan.cases import Timing
from kernels import Problem, get_backend

TIMING = Timing(samples=7, warmup=2, min_sample_seconds=0.02, max_case_seconds=0)
SIZES, KERNELS = (512, 1024, 2048), (15, 31, 63)

_PLAN_CHILD = """
import json, sys
import numpy as np
from harness.sweep.threads import apply_thread_settings
apply_thread_settings()
from kernels import Problem, get_backend
total = 0.0
for n, k in json.loads(sys.argv[1]):
    p = Problem("corr", "same", (n, n), (k, k), "float32", int(sys.argv[2]))
    total += get_backend("fftw").prepare(p, np.zeros((n, n)), np.zeros((k, k))).setup_seconds["plan"]
print(json.dumps(total))
"""


def _best(fn, repeats: int = 15) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _raw_ratio(problem: Problem) -> tuple[float, float]:
    """Best call time and best time of the three plans executed back to back, same prepared case."""
    import numpy as np

    prepared = get_backend("fftw").prepare(problem, np.random.rand(*problem.image_shape),
                                           np.random.rand(*problem.kernel_shape))
    plans = list(prepared.plans.values())

    def raw():
        for plan in plans:
            plan.execute()

    call, transforms = [], []
    for _ in range(3):  # alternate so drift hits both
        call.append(_best(prepared))
        transforms.append(_best(raw))
    return min(call), min(transforms)


def _plan_seconds(cases, threads: int, cache: str) -> float:
    env = dict(os.environ, CONVBENCH_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", _PLAN_CHILD, json.dumps(cases), str(threads)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    t = parser.parse_args().threads
    lines = [f"1. fftw vs scipy.signal.fftconvolve ({t} workers), corr same float32 (goal >= 1.3x)"]
    lines.append("image  kernel   padded    fftw ms  scipy ms   speedup  goal")
    for n in SIZES:
        for k in KERNELS:
            rows = rows_by_backend(Problem("corr", "same", (n, n), (k, k), "float32", t), ["fftw", "scipy-fft"], TIMING)
            ratio = rows["scipy-fft"]["median_s"] / rows["fftw"]["median_s"]
            verdict = "ok" if ratio >= 1.3 else "MISS"
            lines.append(f"{n:5d}  {k:6d}  {rows['fftw']['fft_h']:4d}^2  {1e3 * rows['fftw']['median_s']:9.2f}"
                         f"  {1e3 * rows['scipy-fft']['median_s']:8.2f}  {ratio:7.2f}x  {verdict}")

    lines += ["", "2. fftw timed call vs its raw FFTW executions (goal <= 1.15x)",
              "image  kernel    call ms  raw ms   ratio  goal"]
    for n in SIZES:
        for k in KERNELS:
            call, raw = _raw_ratio(Problem("corr", "same", (n, n), (k, k), "float32", t))
            lines.append(f"{n:5d}  {k:6d}  {1e3 * call:9.2f}  {1e3 * raw:6.2f}  {call / raw:6.3f}"
                         f"  {'ok' if call / raw <= 1.15 else 'MISS'}")

    cases = [[n, k] for n in SIZES for k in KERNELS]
    with tempfile.TemporaryDirectory() as cache:
        first = _plan_seconds(cases, t, cache)
        second = _plan_seconds(cases, t, cache)
    lines += ["", "3. FFTW_MEASURE planning of those 9 cases, fresh processes (goal: second <= 10% of first)",
              f"   without wisdom {first:.2f} s, with wisdom {second:.3f} s: {100 * second / first:.1f}%"
              f"  {'ok' if second <= 0.1 * first else 'MISS'}"]

    lines += ["", "4. fftw-oa vs fftw, 2048x2048 (goal: fftw-oa faster up to kernel 15)",
              "kernel   fftw ms  fftw-oa ms  speedup  block  goal"]
    for k in (3, 5, 7, 9, 11, 15, 31, 63):
        rows = rows_by_backend(Problem("corr", "same", (2048, 2048), (k, k), "float32", t), ["fftw", "fftw-oa"], TIMING)
        ratio = rows["fftw"]["median_s"] / rows["fftw-oa"]["median_s"]
        prepared_shape = f"{rows['fftw-oa']['fft_h']}^2"
        goal = ("ok" if ratio > 1 else "MISS") if k <= 15 else "-"
        lines.append(f"{k:6d}  {1e3 * rows['fftw']['median_s']:8.2f}  {1e3 * rows['fftw-oa']['median_s']:10.2f}"
                     f"  {ratio:6.2f}x  {prepared_shape:>6}  {goal}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
