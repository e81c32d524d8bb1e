"""convbench kernels: one module per backend, the backend contract and its registry.

Nothing here imports from the sweep machinery in ``harness``.
"""

from ._api import convolve, correlate
from ._base import Backend, BackendBase, HostPrepared, Prepared, PreparedBase, check_inputs
from ._fft_geometry import fft_shape, next_fast_len
from ._problem import DTYPES, MODES, OPS, PASSES, Problem, effective_kernel
from ._registry import ENTRY_POINT_GROUP, UnavailableBackend, backends, get_backend, register

__all__ = [
    "Backend",
    "BackendBase",
    "DTYPES",
    "ENTRY_POINT_GROUP",
    "HostPrepared",
    "MODES",
    "OPS",
    "PASSES",
    "Prepared",
    "PreparedBase",
    "Problem",
    "UnavailableBackend",
    "backends",
    "check_inputs",
    "convolve",
    "correlate",
    "effective_kernel",
    "fft_shape",
    "get_backend",
    "next_fast_len",
    "register",
]
