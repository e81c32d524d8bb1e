"""How to ask scipy.signal's correlate/convolve/fftconvolve for our output.

For odd kernels scipy's 'same' centring equals ours; for an even kernel its
'same' (that of ``scipy.signal.correlate``) is one sample off ours (that of
``correlate2d``), so such cases compute 'full' and crop our window.
"""

from __future__ import annotations

from ._fft_geometry import output_window
from ._problem import Problem


def scipy_mode(problem: Problem) -> tuple[str, tuple[slice, slice] | None, str]:
    """``(mode to pass scipy, window to crop or None, note for the row)``."""
    if problem.mode == "same" and any(k % 2 == 0 for k in problem.kernel_shape):
        return "full", output_window(problem), "even kernel in 'same' mode: computed 'full' and cropped"
    return problem.mode, None, ""
