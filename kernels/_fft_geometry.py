"""Transform sizes and output windows shared by the FFT backends.

An FFT backend computes the *circular* convolution of the zero-padded image with
the zero-padded kernel and reads the requested window out of it. The transform
only needs to be long enough that nothing inside that window wraps around,
which for ``valid`` and ``same`` is shorter than the full linear length.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ._problem import Problem

_FAST_FACTORS = (2, 3, 5)
_FFTW_FACTORS = (2, 3, 5, 7)


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


def _exponents(n: int) -> dict[int, int] | None:
    """Exponents of 2, 3, 5, 7 in ``n``, or None if another prime divides it."""
    out = {}
    for f in _FFTW_FACTORS:
        out[f] = 0
        while n % f == 0:
            n //= f
            out[f] += 1
    return out if n == 1 else None


@functools.cache  # a pure function of n, asked ~10^6 times by the block search
def length_penalty(n: int) -> float:
    """Predicted FFTW cost per element and per log2 of size, relative to a power of two.

    Fitted to real-to-complex 2-D FFTW_MEASURE timings on 2 threads (Zen 4), in
    which a missing factor 2 costs 3x (the halved last axis is then odd), a single
    factor 2 about 1.6x, each 7 about 20 %, each 3 or 5 a few per cent.
    """
    e = _exponents(n)
    if e is None:
        return float("inf")
    twos = 2.0 if e[2] == 0 else 0.5 if e[2] == 1 else 0.0
    return 1.0 + 0.04 * e[3] + 0.06 * e[5] + 0.2 * e[7] + twos


def fast_lengths(n: int, limit: int | None = None) -> list[int]:
    """2^a 3^b 5^c 7^d lengths (at most two 7s) from ``n`` up to ``limit`` (default 2n)."""
    limit = limit or 2 * n
    out = []
    for m in range(n, limit + 1):
        e = _exponents(m)
        if e is not None and e[7] <= 2:
            out.append(m)
    return out


def predicted_cost(shape) -> float:
    """Relative cost of one real 2-D transform of ``shape``: P log2 P times the axes' penalties."""
    size = math.prod(shape)
    if size <= 1:
        return 1.0
    return size * sum(math.log2(max(n, 2)) * length_penalty(n) for n in shape if n > 1)


@functools.lru_cache(maxsize=1024)
def best_shape(minimum: tuple[int, int]) -> tuple[int, int]:
    """The padded shape, each axis at least ``minimum``, with the lowest predicted cost."""
    options = [fast_lengths(n) if n > 1 else [1] for n in minimum]
    return min(((a, b) for a in options[0] for b in options[1]), key=predicted_cost)


def fft_shape(problem: Problem) -> tuple[int, int]:
    """Padded transform shape: the cheapest predicted shape at or above the alias-free minimum."""
    return best_shape(tuple(min_circular_shape(problem)))


def output_window(problem: Problem) -> tuple[slice, slice]:
    """Slices that cut the output out of the circular result."""
    return tuple(slice(s, s + o) for s, o in zip(problem.window_start, problem.out_shape))


def convolution_kernel(problem: Problem, kernel: np.ndarray) -> np.ndarray:
    """The kernel to *convolve* with so that the result is the problem's op.

    FFT multiplication convolves; correlation is convolution with the flipped kernel.
    """
    return kernel[::-1, ::-1] if problem.op == "corr" else kernel

