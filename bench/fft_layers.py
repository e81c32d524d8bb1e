"""Issue 16's goals for the FFT layer with transform reuse (``fftw`` on layers), measured in one run.

    .venv/bin/python bench/fft_layers.py [--threads 2] [--batches 1 8]

Layers with C = K = 64, 128 and 256 input and output channels at 56, 28 and 14
pixels (ResNet-50's stages), kernels 3, 7 and 9, mode `same`, float32, every
pass. The FFT layer, the direct layer and im2col + GEMM are timed in
interleaved rounds by the harness's timer; the script prints:

  1. the FFT layer's call over a bare complex matrix product of the same size,
     ``(F, rows, C) @ (F, C, K)`` on fresh contiguous arrays, run as the layer
     runs it (goal: within 1.5x, the transforms amortised), with the share of
     its call that the products themselves take;
  2. the direct layer over the FFT layer for kernels >= 7 (goal: above 1, the
     FFT faster, at C, K >= 64), and im2col + GEMM over the FFT layer beside it;
  3. the transform shape the cost model chose and its predicted over measured time.

Every algorithm pays its filter transforms in each call, as a training step does.
"""

from __future__ import annotations

import argparse
import math

import _runs  # noqa: F401  (first: importing it applies the thread settings)
import numpy as np
from layers import medians

from kernels import PreparedBase, Problem
from kernels._layer_direct import DirectLayer
from kernels._layer_fft import FftLayer, predicted_seconds
from kernels._layer_gemm import GemmLayer, limit_blas, stacked_matmul
from kernels._layers import layer_inputs

LAYERS = ((64, 56), (128, 28), (256, 14))
KERNELS = (3, 7, 9)
PASSES = ("forward", "backward-data", "backward-weights")


class BareProduct(PreparedBase):
    """The FFT layer's complex matrix products alone, on fresh contiguous arrays of the same shapes.

    Run as the layer runs them (:func:`~kernels._layer_gemm.stacked_matmul`, the
    frequencies split across the threads): the fastest way to them we have.
    """

    def __init__(self, layer: FftLayer):
        super().__init__()
        frequencies = layer._x.shape[0] * layer._x.shape[1]
        rows, sources = layer._x.shape[2:]
        rng = np.random.default_rng(0)
        cplx = layer._x.dtype
        if layer.problem.pass_ == "backward-weights":  # (F, C, rows) @ (F, rows, K)
            targets = layer._g.shape[3]
            shapes = ((frequencies, sources, rows), (frequencies, rows, targets), (frequencies, sources, targets))
        else:
            targets = layer._w.shape[3]
            shapes = ((frequencies, rows, sources), (frequencies, sources, targets), (frequencies, rows, targets))
        self._a, self._b = (rng.standard_normal(s).astype(cplx) for s in shapes[:2])
        self._out = np.empty(shapes[2], cplx)
        self.macs = frequencies * rows * sources * targets
        self._threads = layer.problem.threads

    def __call__(self) -> None:
        stacked_matmul(self._a, self._b, self._out, self._threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    print(f"{limit_blas(args.threads)}; threads {args.threads}; float32, mode same, FFTW_MEASURE")
    rows = []
    for batch in args.batches:
        for channels, size in LAYERS:
            for n in KERNELS:
                for pass_ in PASSES:
                    problem = Problem("corr", "same", (size, size), (n, n), "float32", args.threads, batch, channels,
                                      channels, pass_)  # fmt: skip
                    first, second = layer_inputs(problem)
                    fft = FftLayer(problem, first, second, "FFTW_MEASURE")
                    cases = {"fft": fft, "product": BareProduct(fft), "gemm": GemmLayer(problem, first, second)}
                    if n >= 7:
                        cases["direct"] = DirectLayer(problem, first, second)
                    for name, case in cases.items():
                        case()
                        if name not in ("fft", "product"):
                            error = np.abs(case.result() - fft.result()).max() / np.abs(fft.result()).max()
                            if error > 1e-4:
                                raise SystemExit(f"{name} and fft disagree on {problem}: {error:.3g}")
                    times = medians(cases)
                    rows.append((problem, fft.fft, predicted_seconds(problem, fft.fft), times))
                    print(f"  {_label(problem)}  " + "  ".join(f"{k} {v * 1e3:.2f} ms" for k, v in times.items()),
                          flush=True)  # fmt: skip
    _report(rows)


def _label(problem: Problem) -> str:
    n = problem.kernel_shape[0]
    return (f"B={problem.batch} C=K={problem.in_channels:3d} {problem.image_shape[0]:2d}^2 {n}x{n} "
            f"{problem.pass_:16s}")  # fmt: skip


def _geomean(values) -> float:
    return math.exp(np.mean(np.log(values))) if values else float("nan")


def _report(rows) -> None:
    print("\n1. FFT layer call over a bare complex matrix product of the same size (goal <= 1.5);")
    print("   'products' is the share of the call a bare product of its size would take")
    ratios = []
    for problem, _, _, t in rows:
        ratio = t["fft"] / t["product"]
        ratios.append(ratio)
        print(f"  {_label(problem)}  {ratio:5.2f}   products {t['product'] / t['fft']:4.0%}")
    print(f"  within 1.5x: {sum(r <= 1.5 for r in ratios)} of {len(ratios)}; geometric mean {_geomean(ratios):.2f}")
    print("\n2. direct layer over FFT layer for kernels >= 7 (goal > 1), and im2col + GEMM over FFT layer")
    direct, gemm = [], []
    for problem, _, _, t in rows:
        if "direct" in t:
            direct.append(t["direct"] / t["fft"])
            gemm.append(t["gemm"] / t["fft"])
            print(f"  {_label(problem)}  direct/fft {direct[-1]:6.2f}  gemm/fft {gemm[-1]:5.2f}")
    print(f"  direct/fft: min {min(direct):.2f}, geometric mean {_geomean(direct):.2f}; "
          f"gemm/fft: min {min(gemm):.2f}, max {max(gemm):.2f}, geometric mean {_geomean(gemm):.2f}")  # fmt: skip
    print("\n3. transform shape chosen by the cost model, predicted / measured seconds")
    for problem, fft, predicted, t in rows:
        print(f"  {_label(problem)}  {fft[0]}x{fft[1]}  {predicted / t['fft']:.2f}")


if __name__ == "__main__":
    main()
