"""Transform sizes and output windows shared by the FFT backends.

An FFT backend computes the *circular* convolution of the zero-padded image with
the zero-padded kernel and reads the requested window out of it. The transform
only needs to be long enough that nothing inside that window wraps around,
which for ``valid`` and ``same`` is shorter than the full linear length.
"""

from __future__ import annotations

import numpy as np

from ._problem import Problem

# Radices 2, 3 and 5 only: on this class of machine a 7 in the length costs
# FFTW up to 4x (1029 = 3 * 7^3 vs 1080 = 2^3 3^3 5, measured).
_FAST_FACTORS = (2, 3, 5)


def next_fast_len(n: int) -> int:
    """Smallest integer >= ``n`` whose only prime factors are 2, 3 and 5 (fast for every FFT library)."""
    if n < 1:
        raise ValueError(f"length must be positive, got {n}")
    m = n
    while True:
        rest = m
        for f in _FAST_FACTORS:
            while rest % f == 0:
                rest //= f
        if rest == 1:
            return m
        m += 1


def min_circular_shape(problem: Problem) -> tuple[int, int]:
    """The shortest circular length per axis at which the output window is alias-free.

    Full index ``p`` aliases ``p +- P``; for the window ``[s, s + out)`` of a full
    result of length ``L`` to be clean, ``P >= L - s`` and ``P >= s + out``. Both
    inputs must also fit unwrapped (a tiny image with a long kernel in 'same').
    """
    return tuple(
        max(full - s, s + out, image, kernel)
        for full, s, out, image, kernel in zip(
            problem.full_shape, problem.window_start, problem.out_shape, problem.image_shape, problem.kernel_shape
        )
    )


def fft_shape(problem: Problem) -> tuple[int, int]:
    """Padded transform shape: each axis the next fast length above the alias-free minimum."""
    return tuple(next_fast_len(n) for n in min_circular_shape(problem))


def output_window(problem: Problem) -> tuple[slice, slice]:
    """Slices that cut the output out of the circular result."""
    return tuple(slice(s, s + o) for s, o in zip(problem.window_start, problem.out_shape))


def convolution_kernel(problem: Problem, kernel: np.ndarray) -> np.ndarray:
    """The kernel to *convolve* with so that the result is the problem's op.

    FFT multiplication convolves; correlation is convolution with the flipped kernel.
    """
    return kernel[::-1, ::-1] if problem.op == "corr" else kernel
