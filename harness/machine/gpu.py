"""GPU facts for the metadata, and the GPU's measured reference rates.

``collect_gpu`` reads the device (name, compute capability, memory, driver
and runtime versions). ``measure_gpu_peaks`` measures what rows are compared
with: the bandwidth of a copy kernel (bytes read + written per second, as a
bandwidth-bound convolution moves them) and the FP32 and FP64 FMA rates of a
register-only kernel compiled for each precision. Both return a reason instead
of numbers when no real GPU is in use.
"""

from __future__ import annotations

from kernels._gpu import SIMULATOR_REASON, simulator_active

COPY_BYTES = 512 * 2**20
FMA_ITERATIONS = 4096


def _cuda():
    if simulator_active():
        return None, SIMULATOR_REASON
    try:
        from numba import cuda
    except ImportError as exc:
        return None, f"numba's CUDA target is missing: {exc}"
    try:
        if not cuda.is_available():
            return None, "no CUDA GPU or driver"
    except Exception as exc:
        return None, f"CUDA driver error: {exc}"
    return cuda, ""


def collect_gpu() -> dict:
    """Name, compute capability, memory, driver and CUDA versions of the current GPU, or why none."""
    cuda, reason = _cuda()
    if cuda is None:
        return {"available": False, "reason": reason}
    device = cuda.get_current_device()
    free, total = cuda.current_context().get_memory_info()
    info = {
        "available": True,
        "name": device.name.decode() if isinstance(device.name, bytes) else str(device.name),
        "compute_capability": ".".join(map(str, device.compute_capability)),
        "memory_bytes": int(total),
        "multiprocessors": int(device.MULTIPROCESSOR_COUNT),
    }
    try:
        info["cuda_runtime"] = ".".join(map(str, cuda.runtime.get_version()))
        info["cuda_driver"] = ".".join(map(str, cuda.cudadrv.driver.driver.get_version()))
    except Exception as exc:  # versions are nice to have, not worth failing over
        info["versions_error"] = str(exc)
    return info


def _fma_kernel(cuda, scalar):
    """A register-only FMA loop whose every operand is of type ``scalar`` (numba.float32 or float64).

    Python float constants and the integer thread index would promote a
    float32 kernel to float64 arithmetic (a third of the FP32 rate on an H100):
    everything is converted to ``scalar`` first.
    """

    @cuda.jit
    def fma_loop(out, seed, iterations):
        i = cuda.grid(1)
        a0 = scalar(i) * seed
        a1, a2, a3 = a0 + seed, a0 - seed, a0 * seed
        m = seed * scalar(0.999)
        for _ in range(iterations):  # 4 independent chains hide FMA latency
            a0 = a0 * m + seed
            a1 = a1 * m + seed
            a2 = a2 * m + seed
            a3 = a3 * m + seed
        out[i] = a0 + a1 + a2 + a3

    return fma_loop


def _copy_kernel(cuda):
    """A grid-stride copy: what a bandwidth-bound kernel can move, unlike a cudaMemcpy."""

    @cuda.jit
    def copy(dst, src):
        start, stride = cuda.grid(1), cuda.gridsize(1)
        for i in range(start, src.shape[0], stride):
            dst[i] = src[i]

    return copy


def measure_gpu_peaks() -> dict:
    """``copy_gbytes_s`` (read + write), ``fp32_gflops`` and ``fp64_gflops`` of the current GPU, or why none."""
    cuda, reason = _cuda()
    if cuda is None:
        return {"available": False, "reason": reason}
    import numpy as np

    def best_ms(launch, repeats=5):
        launch()
        cuda.synchronize()
        best = float("inf")
        for _ in range(repeats):
            start, end = cuda.event(), cuda.event()
            start.record()
            launch()
            end.record()
            end.synchronize()
            best = min(best, cuda.event_elapsed_time(start, end))
        return best

    from numba import float32, float64

    device = cuda.get_current_device()
    threads = 256
    blocks = device.MULTIPROCESSOR_COUNT * 64
    src = cuda.device_array(COPY_BYTES // 4, np.float32)
    dst = cuda.device_array_like(src)
    copy = _copy_kernel(cuda)
    copy_ms = best_ms(lambda: copy[blocks * 4, threads](dst, src))
    peaks = {"available": True, "copy_gbytes_s": 2 * COPY_BYTES / (copy_ms / 1e3) / 1e9}
    for dtype, scalar, key in ((np.float32, float32, "fp32_gflops"), (np.float64, float64, "fp64_gflops")):
        kernel = _fma_kernel(cuda, scalar)
        out = cuda.device_array(blocks * threads, dtype)
        seed = dtype(1.0001)
        ms = best_ms(lambda kernel=kernel, out=out, seed=seed: kernel[blocks, threads](out, seed, FMA_ITERATIONS))
        peaks[key] = 2 * 4 * FMA_ITERATIONS * blocks * threads / (ms / 1e3) / 1e9
    return peaks
