"""GPU facts for the metadata, and the GPU's measured reference rates.

``collect_gpu`` reads the device (name, compute capability, memory, driver
and runtime versions). ``measure_gpu_peaks`` measures what rows are compared
with: the bandwidth of a copy kernel (bytes read + written per second, as a
bandwidth-bound convolution moves them) and the FP32 and FP64 FMA rates of a
register-only kernel compiled for each precision. Both return a reason instead
of numbers when no real GPU is in use.
"""

from __future__ import annotations

from kernels._gpu import SIMULATOR_REASON, simulator_active, time_launch

COPY_BYTES = 512 * 2**20
FMA_ITERATIONS = 1024
# Multiply-adds per thread and pass of the FMA loop (:func:`_fma_kernel`).
FMA_PER_PASS = 16


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
    everything is converted to ``scalar`` first. Each pass of the loop does
    :data:`FMA_PER_PASS` multiply-adds in 8 independent chains, so the loop's
    own counter and branch cost little: with 4 per pass an H200 measured 22
    TFLOP/s, under the 51 of its FP32 matmul.
    """

    @cuda.jit
    def fma_loop(out, seed, iterations):
        i = cuda.grid(1)
        a0 = scalar(i) * seed
        a1, a2, a3, a4 = a0 + seed, a0 - seed, a0 * seed, a0 + a0
        a5, a6, a7 = a1 * seed, a2 * seed, a3 + seed
        m = seed * scalar(0.999)
        for _ in range(iterations):  # 8 independent chains hide FMA latency; 2 steps each per pass
            a0 = a0 * m + seed
            a1 = a1 * m + seed
            a2 = a2 * m + seed
            a3 = a3 * m + seed
            a4 = a4 * m + seed
            a5 = a5 * m + seed
            a6 = a6 * m + seed
            a7 = a7 * m + seed
            a0 = a0 * m + seed
            a1 = a1 * m + seed
            a2 = a2 * m + seed
            a3 = a3 * m + seed
            a4 = a4 * m + seed
            a5 = a5 * m + seed
            a6 = a6 * m + seed
            a7 = a7 * m + seed
        out[i] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7

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
        return 1e3 * time_launch(launch, repeats)

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
        peaks[key] = 2 * FMA_PER_PASS * FMA_ITERATIONS * blocks * threads / (ms / 1e3) / 1e9
    return peaks


# NVML's clock-event (throttle) reasons that mean the GPU ran below the clocks it could hold.
THROTTLE_REASONS = {
    0x4: "software power cap",
    0x8: "hardware slowdown",
    0x20: "software thermal slowdown",
    0x40: "hardware thermal slowdown",
    0x80: "hardware power brake",
}


def _nvml():
    """NVML's handle of GPU 0 and the module, or ``(None, why)`` (``nvidia-ml-py``, in the cuda extra)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml, pynvml.nvmlDeviceGetHandleByIndex(0)
    except Exception as exc:  # noqa: BLE001 - no NVML, no driver: the run simply has no clock record
        return None, f"NVML unavailable: {type(exc).__name__}: {exc}"


def gpu_names() -> list[str]:
    """Names of every NVIDIA GPU NVML sees ([] without NVML or a driver), for the machine fingerprint."""
    try:
        import pynvml

        pynvml.nvmlInit()
        names = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(index))
            names.append(name.decode() if isinstance(name, bytes) else str(name))
        return names
    except Exception:  # noqa: BLE001 - no NVML or no driver: no GPU to name
        return []


def _throttle_mask(pynvml, handle) -> int:
    try:  # the newer name; older NVML bindings have only the second
        read = pynvml.nvmlDeviceGetCurrentClocksEventReasons
    except AttributeError:
        read = pynvml.nvmlDeviceGetCurrentClocksThrottleReasons
    return int(read(handle))


def throttle_names(mask: int) -> list[str]:
    """The throttle reasons set in an NVML reason mask (idle and application clocks are not throttling)."""
    return [name for bit, name in THROTTLE_REASONS.items() if mask & bit]


def collect_gpu_state() -> dict:
    """Clocks, temperature, power and throttle reasons of GPU 0 now (NVML), or why they are unknown."""
    pynvml, handle = _nvml()
    if pynvml is None:
        return {"available": False, "reason": handle}
    clock = pynvml.nvmlDeviceGetClockInfo
    return {
        "available": True,
        "sm_clock_mhz": int(clock(handle, pynvml.NVML_CLOCK_SM)),
        "max_sm_clock_mhz": int(pynvml.nvmlDeviceGetMaxClockInfo(handle, pynvml.NVML_CLOCK_SM)),
        "memory_clock_mhz": int(clock(handle, pynvml.NVML_CLOCK_MEM)),
        "temperature_c": int(pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU)),
        "power_w": pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
        "throttle": throttle_names(_throttle_mask(pynvml, handle)),
    }


class ThrottleMonitor:
    """Counts, per backend, the samples after which NVML reported the GPU throttled; silent without NVML."""

    def __init__(self):
        self._pynvml, self._handle = _nvml()
        self.counts: dict[str, int] = {}
        self.reasons: dict[str, set[str]] = {}

    @property
    def active(self) -> bool:
        return self._pynvml is not None

    def after_sample(self, name: str) -> None:
        """Read the throttle reasons now and charge them to ``name``'s sample."""
        if not self.active:
            return
        names = throttle_names(_throttle_mask(self._pynvml, self._handle))
        if names:
            self.counts[name] = self.counts.get(name, 0) + 1
            self.reasons.setdefault(name, set()).update(names)

    def warning(self, name: str, samples: int) -> str:
        """'' or 'throttled during K of N samples: reasons', for the row's ``warning``."""
        count = self.counts.get(name, 0)
        if not count:
            return ""
        return f"GPU throttled during {count} of {samples} samples: {', '.join(sorted(self.reasons[name]))}"
