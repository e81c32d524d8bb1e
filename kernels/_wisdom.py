"""FFTW wisdom kept on disk, so planning is paid once per machine and transform size.

Wisdom is only valid for the machine and FFTW build that made it, so the file
name carries a hash of the host, the CPU model and the pyFFTW version. It is
loaded once per process before the first plan and rewritten (atomically) after
any plan that took noticeable time, i.e. that added wisdom.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import platform
import threading

from ._cache import user_cache_dir

_lock = threading.Lock()
_state = {"path": None, "loaded": False, "loaded_entries": 0, "saves": 0, "error": ""}


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
    """Import the saved wisdom into FFTW, once per process; a bad file is ignored and noted."""
    import pyfftw

    with _lock:
        if _state["path"] is not None:
            return
        path = wisdom_path()
        _state["path"] = str(path)
        if not path.exists():
            return
        try:
            wisdom = pickle.loads(path.read_bytes())
            flags = pyfftw.import_wisdom(wisdom)
            _state["loaded"] = any(flags)
            _state["loaded_entries"] = sum(len(w) for w in wisdom)
        except Exception as exc:  # a corrupt cache costs planning time, never a crash
            _state["error"] = f"could not load {path}: {exc}"


def save() -> None:
    """Write FFTW's current wisdom to disk atomically."""
    import pyfftw

    with _lock:
        path = wisdom_path()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pickle.dumps(pyfftw.export_wisdom()))
            os.replace(tmp, path)
            _state["saves"] += 1
        except OSError as exc:
            _state["error"] = f"could not save {path}: {exc}"


def state() -> dict:
    """What happened to wisdom in this process: path, whether loaded, saves, errors."""
    return dict(_state)
