"""Accuracy of the layer algorithms in Lavin and Gray's format: the largest element error per algorithm and layer.

    .venv/bin/python bench/layer_accuracy.py [--batch 1] [--pass forward]

VGG-16's nine distinct 3x3 layers (Simonyan and Zisserman, arXiv 1409.1556,
configuration D; configs/vgg16.toml), mode `same`, inputs uniform in [-1, 1)
(seed 0), in float32 and float64. Each algorithm's output is compared with
the exact reference (:mod:`harness.measure.exact`: Dot2 sums over the C n^2
terms of each output, at every position of the layer or at a seeded sample of
at least 1024 with the corners) and the script prints, as Lavin and Gray's
Table 3 does ("Fast Algorithms for Convolutional Neural Networks", arXiv
1509.09308), the largest absolute element error, then the same in units of
eps x sum |x||w| of that output (the scale of a rounding-error bound).
Their fp32 maxima on VGG: direct 4.0e-5-3.4e-4, F(2x2,3x3) 1.5e-5-5.3e-5,
F(4x4,3x3) 2.8e-4-1.1e-3 (their inputs and weights differ from ours: compare
the ratios between algorithms, not the values).
"""

from __future__ import annotations

import argparse

import _runs  # noqa: F401  (first: importing it applies the thread settings)

from harness.measure.exact import exact_error_metrics, exact_reference
from kernels import Problem
from kernels._layer_direct import DirectLayer
from kernels._layer_fft import FftLayer
from kernels._layer_gemm import GemmLayer
from kernels._layers import layer_inputs
from kernels._winograd import WinogradLayer

# (image, C, K): VGG-16's distinct convolutions, conv1_1 to conv5_x.
VGG16 = ((224, 3, 64), (224, 64, 64), (112, 64, 128), (112, 128, 128), (56, 128, 256), (56, 256, 256),
         (28, 256, 512), (28, 512, 512), (14, 512, 512))  # fmt: skip
ALGORITHMS = {
    "direct": lambda p, a, b: DirectLayer(p, a, b),
    "im2col": lambda p, a, b: GemmLayer(p, a, b),
    "fft": lambda p, a, b: FftLayer(p, a, b, "FFTW_ESTIMATE"),
    "F(2x2,3x3)": lambda p, a, b: WinogradLayer(p, a, b, tile=2),
    "F(4x4,3x3)": lambda p, a, b: WinogradLayer(p, a, b, tile=4),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--pass", dest="pass_", default="forward",
                        choices=("forward", "backward-data", "backward-weights"))  # fmt: skip
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    for dtype in ("float32", "float64"):
        table = {}
        for image, c, k in VGG16:
            problem = Problem("corr", "same", (image, image), (3, 3), dtype, args.threads, args.batch, c, k, args.pass_)
            first, second = layer_inputs(problem)
            exact = exact_reference(problem, first, second)
            for name, make in ALGORITHMS.items():
                prepared = make(problem, first, second)
                prepared()
                table[(image, c, k, name)] = exact_error_metrics(prepared.result(), exact, dtype)
            print(f"  measured {image}x{image} {c}->{k} {dtype}", flush=True)
        for metric, label, fmt in (("err_max_abs", "largest element error", ".1e"),
                                   ("err_max_scaled", "largest error in eps x sum |x||w|", ".3f")):  # fmt: skip
            print(f"\n{dtype}, {args.pass_}, batch {args.batch}: {label}")
            print("| layer | " + " | ".join(ALGORITHMS) + " |")
            print("|---" * (len(ALGORITHMS) + 1) + "|")
            for image, c, k in VGG16:
                cells = [format(table[(image, c, k, name)][metric], fmt) for name in ALGORITHMS]
                print(f"| {image}² {c}→{k} | " + " | ".join(cells) + " |")
            worst = {name: max(table[(i, c, k, name)][metric] for i, c, k in VGG16) for name in ALGORITHMS}
            print("| largest | " + " | ".join(format(worst[name], fmt) for name in ALGORITHMS) + " |")
        positions = {table[(i, c, k, "direct")]["err_positions"] for i, c, k in VGG16}
        print(f"\npositions compared per layer: {min(positions)}-{max(positions)}")


if __name__ == "__main__":
    main()
