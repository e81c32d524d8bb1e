"""Issue 5's speed goals for numba-cuda, for a machine with an NVIDIA GPU.

    .venv/bin/python bench/cuda.py            # needs the cuda extra; torch for the cuDNN comparison

Prints, float32, corr 'same':
  1. 3x3 on 8192x8192: achieved bandwidth (input read + output written) vs the
     measured device-to-device copy bandwidth (goal >= 70%);
  2. kernels 15, 31, 63 on 4096x4096: GFLOP/s vs the measured FP32 FMA rate (goal >= 40%);
  3. vs torch.nn.functional.conv2d (cuDNN), one channel, kernels 3..15 (goal >= 1.0x).
Every number is from CUDA events around device-resident work.
"""

from __future__ import annotations

from harness.gpu import collect_gpu, measure_gpu_peaks

import harness  # noqa: F401  (thread settings)
from harness import Case, Timing, make_inputs, run_case
from kernels import Problem, get_backend

TIMING = Timing(samples=7, warmup=3, min_sample_seconds=0.02, max_case_seconds=0)


def _numba_cuda(problem: Problem) -> dict:
    row = run_case(Case(problem), ["numba-cuda"], TIMING)[0]
    if row["status"] != "ok":
        raise SystemExit(f"numba-cuda {problem}: {row['status']} {row['reason']}")
    return row


def _torch_seconds(problem: Problem) -> float:
    import torch
    import torch.nn.functional as F

    image, kernel = make_inputs(Case(problem))
    x = torch.from_numpy(image)[None, None].cuda()
    w = torch.from_numpy(kernel)[None, None].cuda()
    pad = problem.kernel_shape[0] // 2
    for _ in range(3):
        F.conv2d(x, w, padding=pad)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    best = float("inf")
    for _ in range(7):
        start.record()
        for _ in range(10):
            F.conv2d(x, w, padding=pad)
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end) / 1e3 / 10)
    return best


def main() -> None:
    ok, reason = get_backend("numba-cuda").available()
    if not ok:
        raise SystemExit(f"numba-cuda cannot run here: {reason}")
    gpu, peaks = collect_gpu(), measure_gpu_peaks()
    print(
        f"{gpu['name']} (cc {gpu['compute_capability']}): copy {peaks['copy_gbytes_s']:.0f} GB/s, "
        f"FP32 {peaks['fp32_gflops']:.0f} GFLOP/s"
    )
    n = 8192
    row = _numba_cuda(Problem("corr", "same", (n, n), (3, 3), "float32", 1))
    moved = 2 * 4 * n * n  # read the image once, write the output once
    bandwidth = moved / row["median_s"] / 1e9
    share = bandwidth / peaks["copy_gbytes_s"]
    print(
        f"1. 3x3 on {n}^2: {1e3 * row['median_s']:.3f} ms, {bandwidth:.0f} GB/s = {100 * share:.0f}% of copy "
        f"({'ok' if share >= 0.7 else 'MISS'})"
    )
    print("2. kernel  GFLOP/s  of FP32  goal")
    for k in (15, 31, 63):
        row = _numba_cuda(Problem("corr", "same", (4096, 4096), (k, k), "float32", 1))
        share = row["gflops"] / peaks["fp32_gflops"]
        print(f"   {k:6d}  {row['gflops']:7.0f}  {100 * share:6.0f}%  {'ok' if share >= 0.4 else 'MISS'}")
    print("3. kernel  numba-cuda ms  cuDNN ms  speedup  goal")
    for k in (3, 5, 7, 9, 11, 15):
        problem = Problem("corr", "same", (4096, 4096), (k, k), "float32", 1)
        ours, theirs = _numba_cuda(problem)["median_s"], _torch_seconds(problem)
        print(
            f"   {k:6d}  {1e3 * ours:13.3f}  {1e3 * theirs:8.3f}  {theirs / ours:6.2f}x  "
            f"{'ok' if theirs >= ours else 'MISS'}"
        )


if __name__ == "__main__":
    main()
