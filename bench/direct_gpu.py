"""Issue 15's speed goals for the GPU backends, for a machine with an NVIDIA GPU, ratios in one run.

    python bench/direct_gpu.py        # needs the cuda extra; torch (CUDA build) for the cuDNN peer

Prints, float32, corr 'same', every time from CUDA events around device-resident work,
the backends of a case timed in interleaved rounds by the harness:
  1. 3x3 on 8192^2: numba-cuda's bandwidth (image read once, output written once) as a
     share of the measured copy-kernel bandwidth (goal >= 60%);
  2. numba-cuda vs torch-cudnn (cudnn.benchmark on, TF32 off: the peer's best configuration,
     recorded in its options) and cupy-direct, kernels 3..15 on 4096^2 and 8192^2 (goal >= 1.5x);
  3. kernels 31 and 63 on 4096^2: numba-cuda's GFLOP/s as a share of an FP32 matmul with TF32
     off (cuBLAS through CuPy) (goal >= 25%);
  4. cupy-fft (and cupy-fft-cached, the kernel's spectrum made once) vs a bare cuFFT round trip
     (rfft2, product with a ready spectrum, irfft2) at the same padded size, images 1024..4096
     with a 15x15 kernel (goal <= 1.3x), and its time at 512^2 (goal <= 80 us).
numba-cuda's block shape is the one its prepare found fastest (printed with each row).
"""

from __future__ import annotations

from _runs import rows_by_backend  # first: applies the thread settings

from harness.machine.gpu import collect_gpu, measure_gpu_peaks
from harness.measure.timing import calibrate_loops, interleaved_samples, time_call
from harness.plan.cases import Timing
from kernels import PreparedBase, Problem, fft_shape, get_backend

TIMING = Timing(samples=7, warmup=3, min_sample_seconds=0.02, max_case_seconds=0)
PEERS = ["torch-cudnn"]  # cupy-direct is in the committed run (configs/cuda.toml)


def _usable(names: list[str]) -> list[str]:
    out = []
    for name in names:
        ok, reason = get_backend(name).available()
        print(f"   {name}: {'available' if ok else 'UNAVAILABLE: ' + reason}")
        if ok:
            out.append(name)
    return out


def _matmul_gflops(n: int = 8192) -> float:
    """FP32 matmul rate with TF32 off (CuPy's default math mode), best of five, CUDA events."""
    import cupy

    a = cupy.random.random((n, n), dtype=cupy.float32)
    b = cupy.random.random((n, n), dtype=cupy.float32)
    cupy.matmul(a, b)
    best = float("inf")
    for _ in range(5):
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        cupy.matmul(a, b)
        end.record()
        end.synchronize()
        best = min(best, cupy.cuda.get_elapsed_time(start, end) / 1e3)
    return 2 * n**3 / best / 1e9


class _BareRoundTrip(PreparedBase):
    """rfft2, product with a ready spectrum, irfft2 at ``shape``: what cuFFT itself costs."""

    def __init__(self, shape):
        super().__init__()
        import cupy

        self._fft, self._shape = cupy.fft, shape
        self._x = cupy.random.random(shape, dtype=cupy.float32)
        self._ks = cupy.fft.rfft2(cupy.random.random(shape, dtype=cupy.float32))
        self._sync = cupy.cuda.Device().synchronize

    def __call__(self):
        self._out = self._fft.irfft2(self._fft.rfft2(self._x) * self._ks, self._shape)

    def sync(self):
        self._sync()


def _ratio_of_bare(row: dict, problem: Problem) -> float:
    bare = {"bare": _BareRoundTrip(fft_shape(problem))}
    bare["bare"]()
    loops = {"bare": calibrate_loops(time_call(bare["bare"], 1, "cuda"), TIMING.min_sample_seconds)}
    samples = sorted(interleaved_samples(bare, loops, TIMING.samples, {"bare": "cuda"})["bare"])
    return row["median_s"] / samples[len(samples) // 2]


def main() -> None:
    print("backends:")
    if not _usable(["numba-cuda"]):
        raise SystemExit("numba-cuda cannot run here")
    peers = _usable(PEERS)
    fft = _usable(["cupy-fft", "cupy-fft-cached"])
    gpu, peaks = collect_gpu(), measure_gpu_peaks()
    print(
        f"{gpu['name']} (cc {gpu['compute_capability']}): copy kernel {peaks['copy_gbytes_s']:.0f} GB/s, "
        f"FP32 FMA {peaks['fp32_gflops']:.0f} GFLOP/s"
    )
    n = 8192
    row = rows_by_backend(Problem("corr", "same", (n, n), (3, 3), "float32", 1), ["numba-cuda"], TIMING)["numba-cuda"]
    bandwidth = 2 * 4 * n * n / row["median_s"] / 1e9
    share = bandwidth / peaks["copy_gbytes_s"]
    print(f"1. 3x3 on {n}^2: {1e3 * row['median_s']:.3f} ms, {bandwidth:.0f} GB/s = {100 * share:.0f}% of copy "
          f"({'ok' if share >= 0.6 else 'MISS'})\n   {row['reason']}")

    print("2. image  kernel  numba-cuda ms  " + "  ".join(f"{p:>14} ms  ratio" for p in peers) + "  goal")
    for size in (4096, 8192):
        for k in (3, 5, 7, 9, 15):
            rows = rows_by_backend(Problem("corr", "same", (size, size), (k, k), "float32", 1),
                                   ["numba-cuda", *peers], TIMING)
            ours = rows["numba-cuda"]["median_s"]
            cells = [f"{1e3 * rows[p]['median_s']:17.3f}  {rows[p]['median_s'] / ours:5.2f}x" for p in peers]
            cudnn = rows.get("torch-cudnn", {}).get("median_s")
            verdict = "-" if cudnn is None else ("ok" if cudnn / ours >= 1.5 else "MISS")
            print(f"   {size:5d}  {k:6d}  {1e3 * ours:13.3f}  " + "  ".join(cells) + f"  {verdict}")
            print(f"      {rows['numba-cuda']['reason']}")
    if peers:
        print(f"   options: {', '.join(p + ' [' + rows[p]['options'] + ']' for p in peers)}")

    matmul = _matmul_gflops()
    print(f"3. FP32 matmul, TF32 off: {matmul:.0f} GFLOP/s\n   kernel  GFLOP/s  of matmul  goal")
    for k in (31, 63):
        row = rows_by_backend(Problem("corr", "same", (4096, 4096), (k, k), "float32", 1), ["numba-cuda"], TIMING)
        rate = row["numba-cuda"]["gflops"]
        print(f"   {k:6d}  {rate:7.0f}  {100 * rate / matmul:8.0f}%  {'ok' if rate >= 0.25 * matmul else 'MISS'}")
        print(f"      {row['numba-cuda']['reason']}")

    if fft:
        print("4. image  backend          ms  vs bare cuFFT round trip  goal")
        for size in (512, 1024, 2048, 4096):
            problem = Problem("corr", "same", (size, size), (15, 15), "float32", 1)
            rows = rows_by_backend(problem, fft, TIMING)
            for name in fft:
                row = rows[name]
                ratio = _ratio_of_bare(row, problem)
                goal = (row["median_s"] <= 80e-6) if size == 512 else (ratio <= 1.3)
                print(f"   {size:5d}  {name:15s} {1e3 * row['median_s']:8.3f}  {ratio:24.2f}x  "
                      f"{'ok' if goal else 'MISS'}")


if __name__ == "__main__":
    main()
