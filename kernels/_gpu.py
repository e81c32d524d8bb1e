"""Whether CUDA work would run in Numba's simulator rather than on a GPU."""

from __future__ import annotations

import os

SIMULATOR_REASON = "NUMBA_ENABLE_CUDASIM=1: the simulator checks correctness, its timings mean nothing"


def simulator_active() -> bool:
    """True when ``NUMBA_ENABLE_CUDASIM=1``: kernels run in Python, timings are meaningless."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"
