"""Seeded input generation: every backend of a case sees the same image and kernel."""

from __future__ import annotations

import zlib

import numpy as np

DISTRIBUTIONS = ("uniform", "normal", "image")


def make_inputs(case) -> tuple[np.ndarray, np.ndarray]:
    """Image and kernel for ``case``, drawn from ``case.dist`` and cast to its dtype.

    The generator is seeded from the seed, the distribution and the shapes, so a
    case gets the same inputs in every run and on every machine.

    ``uniform`` is [-0.5, 0.5) (FFTW's accuracy convention), ``normal`` is N(0, 1),
    ``image`` is non-negative in [0, 1) with a kernel that sums to one (a blur).
    """
    p = case.problem
    if case.dist not in DISTRIBUTIONS:
        raise ValueError(f"unknown dist {case.dist!r}; acceptable: {', '.join(DISTRIBUTIONS)}")
    tag = zlib.crc32(case.dist.encode())
    rng = np.random.default_rng([case.seed, tag, *p.image_shape, *p.kernel_shape])
    if case.dist == "uniform":
        image = rng.random(p.image_shape) - 0.5
        kernel = rng.random(p.kernel_shape) - 0.5
    elif case.dist == "normal":
        image = rng.standard_normal(p.image_shape)
        kernel = rng.standard_normal(p.kernel_shape)
    else:
        image = rng.random(p.image_shape)
        kernel = rng.random(p.kernel_shape)
        kernel /= kernel.sum()
    return image.astype(p.np_dtype), kernel.astype(p.np_dtype)
