"""Thread-runtime settings that keep one backend's idle threads off another's cores.

numba's parallel kernels and pyFFTW's FFTW (built with OpenMP) each bring their
own libgomp, so two thread pools share the cores. By default libgomp's workers
spin for about 300,000 iterations after each parallel region; on a 2-core
machine a spinning numba pool doubled the next FFTW call and FFTW's pool slowed
the next numba call (interleaved samples alternated 6/18 ms). Passive waiting
stopped that but made every tiny call pay a thread wake-up (64x64: numba 8 ->
49 us, FFTW 33 -> 277 us). A short spin keeps back-to-back calls of one backend
hot and frees the cores within microseconds: stable and fast for both.
OpenBLAS (numpy's matmul: the layer GEMMs, the matmul peaks) spins the same way
and gets the same treatment.

OpenBLAS 0.3.31 does not know AMD's Zen 5 (CPU family 26) and runs its
Haswell kernels there, on half the vector width the cores have: single
precision GEMM measured 238 against 385 GFLOP/s with its SkylakeX (AVX-512)
kernels, complex GEMM 1.46x slower. Where the CPU is an AMD of family 26 or
later with the AVX-512 subsets those kernels use, ``OPENBLAS_CORETYPE`` is set
to ``SkylakeX`` (every OpenBLAS in the process reads it: numpy's and scipy's).

Applied by the entry points (the CLI, a sweep, the worker process, the bench
scripts) before numba's OpenMP runtime loads (its first parallel kernel), never
by importing a package. A value the user set is kept, and the values in force
are recorded in the metadata.
"""

from __future__ import annotations

import os

# OpenBLAS's workers likewise spin for 2^28 cycles (about 0.1 s) after each product by default; 2^4 lets them
# sleep at once. Without it, an interleaved peer timed after an im2col GEMM ran 1.8x slower. It must be in the
# environment before numpy loads OpenBLAS: the sweep's worker processes inherit it from the entry point.
SETTINGS = {"GOMP_SPINCOUNT": "10000", "OPENBLAS_THREAD_TIMEOUT": "4"}


# The AVX-512 subsets OpenBLAS's SkylakeX kernels use.
_SKYLAKEX_FLAGS = {"avx512f", "avx512bw", "avx512dq", "avx512vl"}
# The first AMD CPU family that OpenBLAS's runtime detection (0.3.31) does not map to its own kernels.
_UNKNOWN_AMD_FAMILY = 26


def blas_core_type(cpuinfo: str) -> str | None:
    """``"SkylakeX"`` for an AMD CPU OpenBLAS does not know that has AVX-512, else None (``/proc/cpuinfo``'s text)."""
    fields = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
        if not line.strip() and fields:
            break  # the first processor's block is enough
    try:
        family = int(fields.get("cpu family", ""))
    except ValueError:
        return None
    amd, flags = fields.get("vendor_id") == "AuthenticAMD", set(fields.get("flags", "").split())
    return "SkylakeX" if amd and family >= _UNKNOWN_AMD_FAMILY and _SKYLAKEX_FLAGS <= flags else None


def _settings() -> dict[str, str]:
    settings = dict(SETTINGS)
    try:
        with open("/proc/cpuinfo") as f:
            core = blas_core_type(f.read())
    except OSError:  # not Linux: OpenBLAS's own detection
        core = None
    if core:
        settings["OPENBLAS_CORETYPE"] = core
    return settings


def apply_thread_settings() -> dict[str, str]:
    """Set each variable in :data:`SETTINGS` (and ``OPENBLAS_CORETYPE`` where needed) unless already set.

    Returns the values in force.
    """
    settings = _settings()
    for key, value in settings.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in settings}
