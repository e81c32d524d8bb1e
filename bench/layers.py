"""Issue 16's speed goals for CNN layers on the CPU, measured in one run (a first cut: ResNet-50's 3x3 layers).

    .venv/bin/python bench/layers.py [--threads 2] [--batches 1 8]

ResNet-50's 3x3 convolutions (He et al., "Deep Residual Learning", Table 1:
conv2_x..conv5_x, C = K = 64, 128, 256, 512 at 56, 28, 14 and 7 pixels; mode
`same`, float32). For each layer and batch, the layer algorithms of `kernels`
and ONNX Runtime's `Conv` (when the `onnx` extra is installed: `pip install -e
'.[onnx]'`) are timed in interleaved rounds by the harness's timer, and the
script prints:

  1. forward, each algorithm against ONNX Runtime (goal: the fastest of ours >= 1.0x on every layer,
     geometric mean >= 1.2x);
  2. Winograd F(4x4, 3x3) against our direct layer (goal >= 1.5x where C, K >= 64);
  3. im2col + GEMM against its matrix product alone (goal: the unfold adds <= 30 %);
  4. each backward pass against the same algorithm's forward pass (goal within 1.3x);
  5. where PyTorch is installed (a CPU build, by hand): every pass against PyTorch's
     (`torch-cpu`, oneDNN), the fastest of ours per pass.

ONNX Runtime is the `onnxruntime` backend (kernels/ort_conv.py): graph
optimisations on (its default), the weights as an initializer (so it may
prepack them once, at session creation), `intra_op_num_threads` = threads, its
pool not spinning between runs. Our algorithms pay every weight transform in
each call, as a training step does, except "once" (Winograd's and the FFT
layer's filters transformed in prepare).
"""

from __future__ import annotations

import argparse
import math

import _runs  # noqa: F401  (first: importing it applies the thread settings)
import numpy as np

from harness.measure.timing import calibrate_loops, interleaved_samples, time_call
from kernels import PreparedBase, Problem, get_backend
from kernels._layer_direct import DirectLayer
from kernels._layer_fft import FftLayer
from kernels._layer_gemm import GemmLayer, limit_blas
from kernels._layers import layer_inputs
from kernels._winograd import WinogradLayer

RESNET50_3X3 = ((64, 56), (128, 28), (256, 14), (512, 7))
ONNX = get_backend("onnxruntime")  # kernels/ort_conv.py: its configuration is described there
TORCH = get_backend("torch-cpu")  # kernels/torch_cpu.py: PyTorch's defaults (oneDNN), every pass
SAMPLES, MIN_SAMPLE_SECONDS = 7, 0.05


class BareMatmul(PreparedBase):
    """The matrix product of :class:`GemmLayer` alone, on its own unfolded columns."""

    def __init__(self, gemm: GemmLayer):
        super().__init__()
        problem = gemm.problem
        self._w = np.ascontiguousarray(gemm.second.reshape(problem.out_channels, -1))
        self._cols, self._out = gemm._cols, np.empty((problem.batch, problem.out_channels, problem.outputs), np.float32)

    def __call__(self) -> None:
        np.matmul(self._w, self._cols, out=self._out)


def medians(prepared: dict) -> dict[str, float]:
    """Median seconds per call of each prepared case, timed in interleaved rounds."""
    loops = {}
    for name, case in prepared.items():
        case()  # warm-up
        loops[name] = calibrate_loops(time_call(case, 1), MIN_SAMPLE_SECONDS)
    samples = interleaved_samples(prepared, loops, SAMPLES)
    return {name: float(np.median(values)) for name, values in samples.items()}


def check(problem: Problem, prepared: dict, reference: np.ndarray) -> None:
    for name, case in prepared.items():
        if name == "matmul":
            continue
        error = float(np.abs(case.result() - reference).max())
        if error > 1e-2:
            raise SystemExit(f"{name} {problem}: max error {error:.3g} against direct")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    onnx_ok, onnx_missing = ONNX.available()
    torch_ok, torch_missing = TORCH.available()
    print(f"BLAS for our matrix products: {limit_blas(args.threads)}; threads {args.threads}")
    if not onnx_ok:
        print(f"ONNX Runtime unavailable ({onnx_missing}): goal 1 is not measured")
    if not torch_ok:
        print(f"PyTorch unavailable ({torch_missing}): the comparison with it (5) is left out")
    rows = []
    for batch in args.batches:
        for channels, size in RESNET50_3X3:
            times = {}
            for pass_ in ("forward", "backward-data", "backward-weights"):
                problem = Problem("corr", "same", (size, size), (3, 3), "float32", args.threads, batch, channels,
                                  channels, pass_)  # fmt: skip
                first, second = layer_inputs(problem)
                cases = {"direct": DirectLayer(problem, first, second), "gemm": GemmLayer(problem, first, second),
                         "fftw": FftLayer(problem, first, second, "FFTW_MEASURE")}  # fmt: skip
                cases["winograd-2"] = WinogradLayer(problem, first, second, tile=2)
                cases["winograd-4"] = WinogradLayer(problem, first, second, tile=4)
                if pass_ == "forward":  # as ONNX Runtime prepacks its constant weights
                    cases["winograd-2 once"] = WinogradLayer(problem, first, second, tile=2, filters_once=True)
                    cases["winograd-4 once"] = WinogradLayer(problem, first, second, tile=4, filters_once=True)
                    cases["fftw once"] = FftLayer(problem, first, second, "FFTW_MEASURE", filters_once=True)
                if pass_ == "forward":
                    cases["matmul"] = BareMatmul(cases["gemm"])
                    if onnx_ok:
                        cases["onnxruntime"] = ONNX.prepare(problem, first, second)
                if torch_ok:
                    cases["torch-cpu"] = TORCH.prepare(problem, first, second)
                for case in cases.values():
                    case()
                check(problem, cases, cases["direct"].result())
                times.update({(pass_, name): t for name, t in medians(cases).items()})
            rows.append((batch, channels, size, times))
    _report(rows, not onnx_ok)
    if torch_ok:
        _report_torch(rows)


def _layer(batch: int, channels: int, size: int) -> str:
    return f"B={batch} C=K={channels:3d} {size:2d}x{size:<2d}"


def _report(rows, no_onnx: bool) -> None:
    ours = ("direct", "gemm", "fftw", "winograd-2", "winograd-4")
    once = ("winograd-2 once", "winograd-4 once", "fftw once")
    print("\n1. forward: ONNX Runtime's time over ours (above 1: ours is faster); 'once': Winograd's and the FFT's")
    print("   transformed in prepare, as ONNX Runtime prepacks its weights; the others transform them in every call")
    best_ratios, once_ratios = [], []
    for batch, channels, size, t in rows:
        line = f"  {_layer(batch, channels, size)}"
        for name in ours + once:
            line += f"  {name} {t[('forward', name)] * 1e3:.2f}"
        if not no_onnx:
            onnx = t[("forward", "onnxruntime")]
            best = min(t[("forward", name)] for name in ours)
            best_once = min(t[("forward", name)] for name in ours + once)
            best_ratios.append(onnx / best)
            once_ratios.append(onnx / best_once)
            line += f"  onnxruntime {onnx * 1e3:.2f} ms;  fastest of ours {onnx / best:.2f}x"
            line += f", with once {onnx / best_once:.2f}x"
        print(line)
    for label, ratios in (("per call", best_ratios), ("with filters once", once_ratios)):
        if ratios:
            geomean = math.exp(np.mean(np.log(ratios)))
            print(f"  fastest of ours ({label}) vs ONNX Runtime: min {min(ratios):.2f}x, geometric mean {geomean:.2f}x")
    print("\n2. winograd F(4x4, 3x3) forward over our direct layer (time ratio direct / winograd; goal >= 1.5),")
    print("   its filters transformed in every call, and once (in prepare)")
    for batch, channels, size, t in rows:
        direct = t[("forward", "direct")]
        per_call, once = direct / t[("forward", "winograd-4")], direct / t[("forward", "winograd-4 once")]
        print(f"  {_layer(batch, channels, size)}  {per_call:.2f}x, once {once:.2f}x")
    print("\n3. im2col + GEMM forward over its matrix product alone (goal <= 1.30)")
    for batch, channels, size, t in rows:
        print(f"  {_layer(batch, channels, size)}  {t[('forward', 'gemm')] / t[('forward', 'matmul')]:.2f}")
    print("\n4. backward passes over the forward pass of the same algorithm (goal <= 1.30)")
    for batch, channels, size, t in rows:
        parts = []
        for name in ("direct", "gemm", "fftw", "winograd-4"):
            for pass_ in ("backward-data", "backward-weights"):
                if (pass_, name) in t:
                    parts.append(f"{name} {pass_} {t[(pass_, name)] / t[('forward', name)]:.2f}")
        print(f"  {_layer(batch, channels, size)}  " + ", ".join(parts))



def _report_torch(rows) -> None:
    ours = ("direct", "gemm", "fftw", "winograd-2", "winograd-4")
    print("\n5. every pass: PyTorch's time over the fastest of ours (above 1: ours is faster; filters per call)")
    ratios = {}
    for batch, channels, size, t in rows:
        parts = []
        for pass_ in ("forward", "backward-data", "backward-weights"):
            best = min(ours, key=lambda name: t[(pass_, name)])
            ratio = t[(pass_, "torch-cpu")] / t[(pass_, best)]
            ratios.setdefault(pass_, []).append(ratio)
            parts.append(f"{pass_} torch {t[(pass_, 'torch-cpu')] * 1e3:.2f} ms, {best} {ratio:.2f}x")
        print(f"  {_layer(batch, channels, size)}  " + "; ".join(parts))
    for pass_, values in ratios.items():
        geomean = math.exp(np.mean(np.log(values)))
        print(f"  {pass_}: min {min(values):.2f}x, geometric mean {geomean:.2f}x")


if __name__ == "__main__":
    main()
