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


def apply_thread_settings() -> dict[str, str]:
    """Set each variable in :data:`SETTINGS` unless already set; return the values in force."""
    for key, value in SETTINGS.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in SETTINGS}
