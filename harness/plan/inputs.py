"""Seeded input generation: every backend of a case sees the same image and kernel."""

from __future__ import annotations

import zlib

import numpy as np

from kernels import PASSES
from kernels._layers import input_shapes

DISTRIBUTIONS = ("uniform", "normal", "image", "hdr")
# hdr: share of bright points, and the decades of the faint background and the bright points.
HDR_BRIGHT_SHARE = 0.001
HDR_FAINT, HDR_BRIGHT = (-6.0, -2.0), (2.0, 4.0)


def make_inputs(case) -> tuple[np.ndarray, np.ndarray]:
    """Image and kernel for ``case``, drawn from ``case.dist`` and cast to its dtype.

    For a CNN layer, the pass's two inputs (:func:`kernels._layers.input_shapes`),
    ``uniform`` or ``normal`` only.

    The generator is seeded from the seed, the distribution and the shapes, so a
    case gets the same inputs in every run and on every machine.

    ``uniform`` is [-0.5, 0.5) (FFTW's accuracy convention), ``normal`` is N(0, 1),
    ``image`` is non-negative in [0, 1) with a kernel that sums to one (a blur).
    ``hdr`` is high dynamic range: a faint background log-uniform over 1e-6..1e-2
    with a few bright points (0.1 %, at least one) log-uniform over 1e2..1e4,
    under the same kind of positive blur kernel: values span ten decades.
    """
    p = case.problem
    if case.dist not in DISTRIBUTIONS:
        raise ValueError(f"unknown dist {case.dist!r}; acceptable: {', '.join(DISTRIBUTIONS)}")
    tag = zlib.crc32(case.dist.encode())
    if p.is_layer:
        return _layer_inputs(case, tag)
    rng = np.random.default_rng([case.seed, tag, *p.image_shape, *p.kernel_shape])
    if case.dist == "uniform":
        image = rng.random(p.image_shape) - 0.5
        kernel = rng.random(p.kernel_shape) - 0.5
    elif case.dist == "normal":
        image = rng.standard_normal(p.image_shape)
        kernel = rng.standard_normal(p.kernel_shape)
    elif case.dist == "image":
        image = rng.random(p.image_shape)
        kernel = rng.random(p.kernel_shape)
        kernel /= kernel.sum()
    else:
        image = 10.0 ** rng.uniform(*HDR_FAINT, p.image_shape)
        bright = max(1, round(HDR_BRIGHT_SHARE * image.size))
        spots = rng.choice(image.size, size=bright, replace=False)
        image.flat[spots] = 10.0 ** rng.uniform(*HDR_BRIGHT, bright)
        kernel = rng.random(p.kernel_shape) + 1e-3
        kernel /= kernel.sum()
    return image.astype(p.np_dtype), kernel.astype(p.np_dtype)


def _layer_inputs(case, tag: int) -> tuple[np.ndarray, np.ndarray]:
    p = case.problem
    layer = (p.batch, p.in_channels, p.out_channels, PASSES.index(p.pass_))
    rng = np.random.default_rng([case.seed, tag, *p.image_shape, *p.kernel_shape, *layer])
    if case.dist not in ("uniform", "normal"):
        raise ValueError(f"dist {case.dist!r} is for one image and one kernel; CNN layers take 'uniform' or 'normal'")
    draw = (lambda shape: rng.random(shape) - 0.5) if case.dist == "uniform" else rng.standard_normal
    first, second = (draw(shape).astype(p.np_dtype) for shape in input_shapes(p))
    return first, second
