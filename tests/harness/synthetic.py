"""Results tables built from known cost laws, for testing the models, chooser and comparisons."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kernels import Problem, get_backend

DIRECT_A, DIRECT_B = 1e-10, 5e-6  # seconds per multiply-add, per call
FFT_C, FFT_D = 2e-9, 3e-5  # seconds per P log2 P, per call


def direct_law(problem: Problem) -> float:
    kh, kw = problem.kernel_shape
    return DIRECT_A * kh * kw * math.prod(problem.out_shape) + DIRECT_B


def fft_law(problem: Problem, backend: str = "fftw") -> float:
    count, shape = get_backend(backend).transforms(problem)
    size = math.prod(shape)
    return FFT_C * count * size * math.log2(size) + FFT_D


LAWS = {"numba-cpu": ("direct", direct_law), "fftw": ("fft", fft_law)}


def synthetic_run(images, kernels, laws=LAWS, *, mode="same", op="corr", dtype="float32", threads=2, noise=0.0, seed=0):
    """One ok row per (backend, image size, kernel size), median time from ``laws``, 7 samples each."""
    rng = np.random.default_rng(seed)
    rows = []
    for image in images:
        for k in kernels:
            problem = Problem(op, mode, (image, image), (k, k), dtype, threads)
            for backend, (method, law) in laws.items():
                seconds = law(problem)
                samples = seconds * np.exp(noise * rng.standard_normal(7))
                row = dict(
                    backend=backend,
                    method=method,
                    device="cpu",
                    op=op,
                    mode=mode,
                    image_h=image,
                    image_w=image,
                    kernel_h=k,
                    kernel_w=k,
                    dtype=dtype,
                    threads=threads,
                    batch=1,
                    in_channels=1,
                    out_channels=1,
                    **{"pass": "forward"},
                    dist="uniform",
                    seed=0,
                    status="ok",
                    reason="",
                    median_s=float(np.median(samples)),
                    min_s=float(samples.min()),
                    q1_s=float(np.quantile(samples, 0.25)),
                    q3_s=float(np.quantile(samples, 0.75)),
                    mean_s=float(samples.mean()),
                    std_s=float(samples.std()),
                    n=len(samples),
                    samples_s=samples.tolist(),
                    fft_h=np.nan,
                    fft_w=np.nan,
                    fft_blocks=np.nan,
                )
                if method == "fft":
                    count, shape = get_backend(backend).transforms(problem)
                    row.update(fft_h=shape[0], fft_w=shape[1], fft_blocks=count)
                rows.append(row)
    return pd.DataFrame(rows)
