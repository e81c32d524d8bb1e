"""Issue 16's goals for the FFT layer with transform reuse (``fftw`` on layers), measured in one run.

    .venv/bin/python bench/fft_layers.py [--threads 2] [--batches 1 8]

Layers with C = K = 64, 128 and 256 input and output channels at 56, 28 and 14
pixels (ResNet-50's stages), kernels 3, 7 and 9, mode `same`, float32, every
pass. The FFT layer, the direct layer and im2col + GEMM are timed in
interleaved rounds by the harness's timer; the script prints:

  1. the FFT layer's per-pair frequency-domain work, its channel products run
     alone on its own spectra, over a bare complex matrix product of the same
     size, ``(F, rows, C) @ (F, C, K)`` on fresh contiguous arrays, run as the
     layer runs it (goal: within 1.5x, the transforms amortised); and its whole
     call over the same bare product, with the share the products take;
  2. the direct layer over the FFT layer for kernels >= 7 (goal: above 1, the
     FFT faster, at C, K >= 64), and im2col + GEMM over the FFT layer beside it;
  3. the transform shape the cost model chose and its predicted over measured time;
  4. the same layer in whole-array numpy calls (``numpy-fft``'s layer, the code
     ``cupy-fft`` runs on a GPU) over the FFTW layer.

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
from kernels._layer_fft_arrays import ArrayFftLayer
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


class LayerProducts(PreparedBase):
    """The FFT layer's channel products alone, on the spectra its last call left in its buffers."""

    def __init__(self, layer: FftLayer):
        super().__init__()
        self._products = layer._products

    def __call__(self) -> None:
        self._products()


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
                    cases = {"fft": fft, "own products": LayerProducts(fft), "product": BareProduct(fft),
                             "gemm": GemmLayer(problem, first, second),
                             "numpy": ArrayFftLayer(problem, first, second, fft=fft.fft)}  # fmt: skip
                    if n >= 7:
                        cases["direct"] = DirectLayer(problem, first, second)
                    for name, case in cases.items():
                        case()
                        if name not in ("fft", "own products", "product"):
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
    print("\n1. FFT layer's own channel products, and its whole call, over a bare complex matrix product of the same")
    print("   size (goal for the products: <= 1.5); 'products' is the share of the call a bare product would take")
    own, calls = [], []
    for problem, _, _, t in rows:
        own.append(t["own products"] / t["product"])
        calls.append(t["fft"] / t["product"])
        print(f"  {_label(problem)}  products {own[-1]:5.2f}   call {calls[-1]:5.2f}   "
              f"products {t['product'] / t['fft']:4.0%}")  # fmt: skip
    for name, ratios in (("products", own), ("call", calls)):
        print(f"  {name} within 1.5x: {sum(r <= 1.5 for r in ratios)} of {len(ratios)}; "
              f"range {min(ratios):.2f}-{max(ratios):.2f}, geometric mean {_geomean(ratios):.2f}")  # fmt: skip
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
    print("\n4. the layer in whole-array numpy calls (numpy-fft's, the code cupy-fft runs) over the FFTW layer")
    slower = [t["numpy"] / t["fft"] for _, _, _, t in rows]
    print(f"  range {min(slower):.2f}-{max(slower):.2f}, geometric mean {_geomean(slower):.2f}")


if __name__ == "__main__":
    main()
