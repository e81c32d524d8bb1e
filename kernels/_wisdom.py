"""FFTW wisdom kept on disk, so planning is paid once per machine and transform size.

Wisdom is only valid for the machine and FFTW build that made it, so the file
name carries a hash of the host, the CPU model and the pyFFTW version. It is
loaded once per process before the first plan and rewritten (atomically) after
any planning that took noticeable time, i.e. that added wisdom (:func:`planning`).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import platform
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from ._cache import user_cache_dir

_lock = threading.Lock()
_loaded = False
# Planning slower than this added wisdom worth writing to disk.
SAVE_AFTER_SECONDS = 0.05


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor()


def wisdom_path():
    """Where this machine's wisdom lives."""
    import pyfftw

    tag = f"{platform.node()}|{_cpu_model()}|{pyfftw.__version__}"
    digest = hashlib.sha1(tag.encode()).hexdigest()[:12]  # noqa: S324 - a name, not security
    return user_cache_dir() / f"fftw-wisdom-{digest}.pickle"


def load_once() -> None:
    """Import the saved wisdom into FFTW, once per process; a bad file costs planning time, with a warning."""
    import pyfftw

    global _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True
        path = wisdom_path()
        if not path.exists():
            return
        try:
            pyfftw.import_wisdom(pickle.loads(path.read_bytes()))
        except Exception as exc:  # never a crash: FFTW just plans from scratch
            warnings.warn(f"ignored FFTW wisdom {path}: {exc}", stacklevel=2)


def save() -> None:
    """Write FFTW's current wisdom to disk atomically; a failure warns and loses only the wisdom."""
    import pyfftw

    with _lock:
        path = wisdom_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pickle.dumps(pyfftw.export_wisdom()))
            os.replace(tmp, path)
        except OSError as exc:
            warnings.warn(f"could not save FFTW wisdom to {path}: {exc}", stacklevel=2)


@contextmanager
def planning() -> Iterator[None]:
    """Around FFTW planning: load the wisdom first; save it after if planning took long (new wisdom)."""
    load_once()
    start = time.perf_counter()
    yield
    if time.perf_counter() - start > SAVE_AFTER_SECONDS:
        save()
