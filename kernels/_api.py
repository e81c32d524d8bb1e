"""One-shot convenience functions: prepare a backend for the inputs and run it once."""

from __future__ import annotations

import numpy as np

from ._problem import Problem
from ._registry import get_backend

DEFAULT_BACKEND = "numba-cpu"


def _run_once(op: str, image, kernel, mode: str, backend: str, threads: int | None) -> np.ndarray:
    image = np.asarray(image)
    kernel = np.asarray(kernel)
    if image.ndim not in (1, 2) or kernel.ndim not in (1, 2):
        raise ValueError(f"image and kernel must be 1-D or 2-D, got {image.ndim}-D and {kernel.ndim}-D")
    both32 = image.dtype == np.float32 and kernel.dtype == np.float32
    dtype = "float32" if both32 else "float64"
    problem = Problem(op, mode, image.shape, kernel.shape, dtype, threads or 1)
    chosen = get_backend(backend)
    ok, reason = chosen.available()
    if ok:
        ok, reason = chosen.supports(problem)
    if not ok:
        raise RuntimeError(f"backend {backend!r} cannot run this problem: {reason}")
    prepared = chosen.prepare(problem, image, kernel)
    prepared()
    prepared.sync()
    out = prepared.result()
    return out.reshape(-1) if image.ndim == 1 and kernel.ndim == 1 else out


def correlate(image, kernel, mode: str = "full", backend: str = DEFAULT_BACKEND, threads: int | None = None):
    """Cross-correlate ``image`` with ``kernel`` (no kernel flip), as CNN layers do.

    Parameters
    ----------
    image, kernel : array_like, 1-D or 2-D
        float32 inputs give a float32 result; anything else is computed in float64.
    mode : {"full", "same", "valid"}
        Output extent; ``same`` is centred like ``scipy.signal.correlate2d``.
    backend : str
        A registered backend name (see ``kernels.backends()``).
    threads : int, optional
        CPU threads; default 1.

    Returns
    -------
    numpy.ndarray
        1-D when both inputs are 1-D, else 2-D.
    """
    return _run_once("corr", image, kernel, mode, backend, threads)


def convolve(image, kernel, mode: str = "full", backend: str = DEFAULT_BACKEND, threads: int | None = None):
    """Convolve ``image`` with ``kernel`` (kernel flipped on every axis).

    Parameters are those of :func:`correlate`; ``same`` is centred like
    ``scipy.signal.convolve2d``.
    """
    return _run_once("conv", image, kernel, mode, backend, threads)
