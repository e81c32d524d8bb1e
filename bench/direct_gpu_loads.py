"""numba-cuda's two ways to feed its strips, timed on one GPU in one run: staged in shared memory or read through L1.

    python bench/direct_gpu_loads.py        # needs a CUDA GPU, the cuda extra and torch for the cuDNN column

The backend stages each block's input tile in shared memory (``_cuda_direct.kernel_source``);
``_cuda_direct.cached_source`` reads it straight from global memory through L1, with no staging
loop or barrier. For small kernels the staging is most of the work. Per case, float32 corr 'same':
the backend's own launch (its block search on) and the cached-load kernel at each block shape,
CUDA events around 20 back-to-back launches (median of 5), each output checked against the
backend's; the cuDNN column is torch-cudnn's call (benchmark on, TF32 off) timed the same way, and
the bandwidth is the image read once and the output written once over the copy-kernel bandwidth.
"""

from __future__ import annotations

import numpy as np
from _runs import rows_by_backend
from numba import cuda

from harness.machine.gpu import measure_gpu_peaks
from harness.plan.cases import Timing
from kernels import Problem, get_backend
from kernels._cuda_direct import GEOMETRIES, bind_cached

CASES = [(8192, 3), (8192, 5), (8192, 9), (4096, 3), (4096, 7)]
TIMING = Timing(samples=5, warmup=3, min_sample_seconds=0.01, max_case_seconds=0)


def seconds_per_launch(launch, loops: int = 20, samples: int = 5) -> float:
    """Median over ``samples`` of CUDA-event time around ``loops`` back-to-back launches, per launch."""
    launch()
    cuda.synchronize()
    times = []
    for _ in range(samples):
        start, end = cuda.event(), cuda.event()
        start.record()
        for _ in range(loops):
            launch()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3 / loops)
    return float(np.median(times))


def main() -> None:
    copy = measure_gpu_peaks()["copy_gbytes_s"]
    print(f"copy kernel {copy:.0f} GB/s\n image  k  cudnn ms  staged ms (block)        " + "  ".join(
        f"cached {h}x{w}x{r}" for h, w, r in GEOMETRIES) + "  best/cudnn  best bw")
    rng = np.random.default_rng(0)
    for size, k in CASES:
        problem = Problem("corr", "same", (size, size), (k, k), "float32", 1)
        image = rng.random((size, size), dtype=np.float32) - 0.5
        kernel = rng.random((k, k), dtype=np.float32) - 0.5
        cudnn = rows_by_backend(problem, ["torch-cudnn"], TIMING)["torch-cudnn"]["median_s"]
        staged = get_backend("numba-cuda").prepare(problem, image, kernel)
        staged_s = seconds_per_launch(staged)
        expected = staged.result()
        cells, best = [], staged_s
        for block in GEOMETRIES:
            out = cuda.device_array(problem.out_shape, np.float32)
            launch = bind_cached(staged._x, staged._w, out, "float32", block)
            seconds = seconds_per_launch(launch)
            ok = np.allclose(out.copy_to_host(), expected, rtol=1e-4, atol=1e-4 * k)
            cells.append(f"{1e3 * seconds:9.3f}{'' if ok else ' WRONG'}")
            best = min(best, seconds) if ok else best
        bandwidth = 2 * 4 * size * size / best / 1e9
        print(f" {size:5d} {k:2d}  {1e3 * cudnn:8.3f}  {1e3 * staged_s:9.3f} ({'x'.join(map(str, staged.block))})  "
              + "  ".join(cells) + f"  {cudnn / best:9.2f}x  {100 * bandwidth / copy:5.0f}%")


if __name__ == "__main__":
    main()
