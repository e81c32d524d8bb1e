"""Machine and software metadata for the JSON sidecar, one small ``collect_*`` function per topic."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import socket

from .gpu import gpu_names
from .memory import total_bytes

_FLAGS_OF_INTEREST = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "neon", "asimd")
# The environment variables that decide a backend's threads (and BLAS's kernels), recorded with every run.
THREAD_ENV = (
    "GOMP_SPINCOUNT",
    "OMP_WAIT_POLICY",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_THREAD_TIMEOUT",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
_PACKAGES = (
    "numpy",
    "numba",
    "llvmlite",
    "pyfftw",
    "pandas",
    "pyarrow",
    "matplotlib",
    "scipy",
    "opencv-python-headless",
    "numba-cuda",
    "cupy",
)


def all_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def collect_cpu() -> dict:
    """CPU model, the SIMD flags that matter for these kernels, and core counts."""
    model, flags = platform.processor() or "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return {
        "cpu_model": model or platform.machine(),
        "cpu_flags": sorted(flags.intersection(_FLAGS_OF_INTEREST)),
        "logical_cpus": os.cpu_count(),
        "usable_cores": all_cores(),
        "arch": platform.machine(),
    }


def collect_system() -> dict:
    """Host name, operating system and Python."""
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def collect_machine() -> dict:
    """The metadata's ``machine`` entry: host, CPU, memory in all and GPU names (what the fingerprint reads)."""
    return {**collect_system(), **collect_cpu(), "memory_bytes": total_bytes(), "gpus": gpu_names()}


def collect_versions() -> dict:
    """Installed versions of the libraries whose speed or accuracy the results depend on."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def collect_numba() -> dict:
    """Numba's threading layer (known once a parallel kernel has run) and thread limit."""
    try:
        import numba
    except ImportError:
        return {}
    try:
        layer = numba.threading_layer()
    except ValueError:
        layer = "not initialised"
    return {"numba_threading_layer": layer, "numba_num_threads": numba.config.NUMBA_NUM_THREADS}


def collect_metadata(config_source: dict | None = None, **extra) -> dict:
    """Everything for the sidecar: machine, software, the config, and ``extra``."""
    meta = {"collected_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}
    meta["machine"] = collect_machine()
    meta["versions"] = collect_versions()
    meta["numba"] = collect_numba()
    meta["thread_env"] = {
        k: os.environ.get(k)
        for k in THREAD_ENV
    }
    if config_source is not None:
        meta["config"] = config_source
    meta.update(extra)
    return meta
