"""Thread-runtime settings that keep one backend's idle threads off another's cores.

Set before numba's OpenMP runtime loads (the first parallel kernel). With the
default active wait, libgomp's workers spin after every parallel region; on a
2-core machine a spinning numba pool doubled the next FFTW call and FFTW's
threads slowed the next numba call (samples alternated 6/18 ms). Passive
waiting makes both stable. A value the user set is kept, and all are recorded.
"""

from __future__ import annotations

import os

SETTINGS = {"OMP_WAIT_POLICY": "passive", "KMP_BLOCKTIME": "0"}


def apply_thread_settings() -> dict[str, str]:
    """Set each variable in :data:`SETTINGS` unless already set; return the values in force."""
    for key, value in SETTINGS.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in SETTINGS}
