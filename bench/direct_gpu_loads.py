"""numba-cuda's two ways to feed its strips, at several block shapes, timed on one GPU in one run.

    python bench/direct_gpu_loads.py        # needs a CUDA GPU, the cuda extra and torch for the cuDNN column

``staged`` copies each block's input tile to shared memory (``_cuda_direct.kernel_source``);
``cached`` reads it straight from global memory through L1, with no staging loop or barrier
(``_cuda_direct.cached_source``, kernels of up to 16 rows). Per case, float32 corr 'same': every
launch timed directly (the harness's CUDA-event timer around 20 back-to-back launches, median of 5), its output
checked against the backend's; the launch the backend's own search picks; torch-cudnn (benchmark
on, TF32 off) through the harness; and the best launch's bandwidth (image read once, output
written once) over the copy-kernel bandwidth. The search times only the blocks in
``_cuda_direct.BLOCKS``; this script also times the two it dropped.
"""

from __future__ import annotations

import numpy as np
from _runs import rows_by_backend
from numba import cuda

from harness.machine.gpu import measure_gpu_peaks
from harness.measure.timing import time_call
from harness.plan.cases import Timing
from kernels import PreparedBase, Problem, get_backend
from kernels._cuda_direct import LOADS, Launch, bind

CASES = [(8192, 3), (8192, 5), (8192, 9), (4096, 3), (4096, 7)]
TIMED = [Launch(loads, *block) for loads in LOADS for block in ((8, 32, 4), (4, 32, 8), (8, 32, 8), (4, 64, 4))]
TIMING = Timing(samples=5, warmup=3, min_sample_seconds=0.01, max_case_seconds=0)


class _Launch(PreparedBase):
    """One bound launch as the harness's timer takes it: a call and a device sync."""

    def __init__(self, run):
        super().__init__()
        self._run = run

    def __call__(self) -> None:
        self._run()

    def sync(self) -> None:
        cuda.synchronize()


def seconds_per_launch(run, loops: int = 20, samples: int = 5) -> float:
    """Median over ``samples`` of the harness's CUDA-event time around ``loops`` back-to-back launches."""
    case = _Launch(run)
    case()  # compiles it
    return float(np.median([time_call(case, loops, "cuda") for _ in range(samples)]))


def main() -> None:
    for name in ("numba-cuda", "torch-cudnn"):
        ok, reason = get_backend(name).available()
        if not ok:
            raise SystemExit(f"{name} cannot run here: {reason}")
    copy = measure_gpu_peaks()["copy_gbytes_s"]
    print(f"copy kernel {copy:.0f} GB/s; times in ms\n image  k  cudnn  " + "  ".join(t.label() for t in TIMED)
          + "  search's pick  best/cudnn  best bw")
    rng = np.random.default_rng(0)
    for size, k in CASES:
        problem = Problem("corr", "same", (size, size), (k, k), "float32", 1)
        image = rng.random((size, size), dtype=np.float32) - 0.5
        kernel = rng.random((k, k), dtype=np.float32) - 0.5
        cudnn = rows_by_backend(problem, ["torch-cudnn"], TIMING)["torch-cudnn"]["median_s"]
        prepared = get_backend("numba-cuda").prepare(problem, image, kernel)
        expected = prepared.result()
        cells, best = [], float("inf")
        for launch in TIMED:
            out = cuda.device_array(problem.out_shape, np.float32)
            run = bind(prepared._x, prepared._w, out, "float32", launch)
            seconds = seconds_per_launch(run)
            ok = np.allclose(out.copy_to_host(), expected, rtol=1e-4, atol=1e-4 * k)
            cells.append(f"{1e3 * seconds:.3f}{'' if ok else ' WRONG'}")
            best = min(best, seconds) if ok else best
        bandwidth = 2 * 4 * size * size / best / 1e9
        print(f" {size:5d} {k:2d}  {1e3 * cudnn:.3f}  " + "  ".join(cells)
              + f"  {prepared.launch.label()}  {cudnn / best:.2f}x  {100 * bandwidth / copy:.0f}%")


if __name__ == "__main__":
    main()
