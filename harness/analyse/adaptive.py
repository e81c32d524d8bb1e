"""Adaptive calibration: measure where the chooser is unsure, not on a fixed grid.

A fixed grid spends most of its cases far from any crossover, where every
model agrees on the winner, and has few where the winner changes. Here a
coarse grid is measured first; then, round by round, the sizes of a fine
candidate grid whose two best predictions (from the calibration so far) are
closest are measured next, until none is within :data:`UNSURE_WITHIN` or the
rounds are spent. :func:`unsure_sizes` picks a round's sizes; the rounds are
run by ``convbench calibrate``.
"""

from __future__ import annotations

import math

import pandas as pd

from kernels import Problem

from .chooser import predict_times
from .models import fit_models

# The coarse start (image sizes x kernel sizes), and the fine grid the rounds choose from.
COARSE_IMAGES = (64, 256, 1024, 2048)
COARSE_KERNELS = (3, 9, 21, 63)
FINE_IMAGES = (64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048)
FINE_KERNELS = (3, 4, 5, 6, 7, 8, 9, 11, 13, 15, 17, 19, 21, 25, 29, 35, 41, 49, 63)
# Top two predictions closer than this (relative) are a size worth measuring.
UNSURE_WITHIN = 0.5
# Sizes of one round are at least this far apart (in log2 of image and kernel size), so a round spreads out.
MIN_SPACING = 0.5


def unsure_sizes(
    frame: pd.DataFrame,
    *,
    op: str,
    mode: str,
    dtype: str,
    limit: int,
    images=None,
    kernels=None,
) -> list[tuple[int, int]]:
    """Up to ``limit`` unmeasured square sizes ``(image, kernel)`` where the chooser is least sure.

    Parameters
    ----------
    frame : DataFrame
        The calibration so far (a results table).
    op, mode, dtype : str
        The kind of problem calibrated.
    limit : int
        How many sizes to return at most.
    images, kernels : sequence of int, optional
        The candidate grid (default :data:`FINE_IMAGES` x :data:`FINE_KERNELS`),
        kept within the sizes measured so far: refining, not extrapolating.

    Returns
    -------
    list of (int, int)
        Closest calls first; none within ``MIN_SPACING`` of another in log2
        size; empty when no candidate's top two predictions are within
        :data:`UNSURE_WITHIN`.
    """
    ok = frame[frame["status"] == "ok"]
    models = fit_models(ok)
    if not models:
        return []
    measured = set(zip(ok["image_h"].astype(int), ok["kernel_h"].astype(int)))
    measured_images, measured_kernels = zip(*measured)
    images = [i for i in (images or FINE_IMAGES) if min(measured_images) <= i <= max(measured_images)]
    kernels = [k for k in (kernels or FINE_KERNELS) if min(measured_kernels) <= k <= max(measured_kernels)]
    scored = []
    for image in images:
        for kernel in kernels:
            if kernel > image or (image, kernel) in measured:
                continue
            ranked = predict_times(models, Problem(op, mode, (image, image), (kernel, kernel), dtype))
            if len(ranked) < 2:
                continue
            gap = float(ranked["total_s"].iloc[1] / ranked["total_s"].iloc[0]) - 1.0
            if gap < UNSURE_WITHIN:
                scored.append((gap, image, kernel))
    picked: list[tuple[int, int]] = []
    for _, image, kernel in sorted(scored):
        near = any(
            abs(math.log2(image / i)) < MIN_SPACING and abs(math.log2(kernel / k)) < MIN_SPACING for i, k in picked
        )
        if not near:
            picked.append((image, kernel))
        if len(picked) == limit:
            break
    return picked
