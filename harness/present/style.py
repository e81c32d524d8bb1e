"""What every plot shares: one colour per backend in every figure of every run, and times with units."""

from __future__ import annotations

import zlib

import matplotlib.ticker

# Fixed colours (matplotlib's tab20, spread so neighbours differ); a backend keeps its colour in every run.
_TAB20 = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
]  # fmt: skip
BACKEND_COLOURS = {
    "numba-cpu": _TAB20[0],
    "fftw": _TAB20[1],
    "fftw-cached": _TAB20[11],
    "fftw-oa": _TAB20[2],
    "numpy-fft": _TAB20[7],
    "opencv": _TAB20[3],
    "scipy-direct": _TAB20[4],
    "scipy-fft": _TAB20[5],
    "numba-cuda": _TAB20[9],
    "cupy-fft": _TAB20[6],
    "cupy-fft-cached": _TAB20[16],
    "cupy-direct": _TAB20[8],
    "cupy-scipy-fft": _TAB20[14],
    "torch-cudnn": _TAB20[13],
    "im2col-gemm": _TAB20[10],
    "winograd": _TAB20[12],
    "onnxruntime": _TAB20[15],
}
FORMATS = ("png", "svg", "pdf")


def backend_colour(name: str) -> str:
    """The backend's colour: fixed for the built-ins, a stable pick from the palette for any other name."""
    return BACKEND_COLOURS.get(name) or _TAB20[zlib.crc32(name.encode()) % len(_TAB20)]


def format_seconds(value: float, _position=None) -> str:
    """A tick label with a unit: 20 us, 1.5 ms, 2 s."""
    if value <= 0:
        return "0"
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if value >= scale:
            return f"{value / scale:g} {unit}"
    return f"{value * 1e9:g} ns"


def seconds_axis(axis) -> None:
    """Label a log-scaled time axis in s, ms and µs instead of powers of ten of seconds."""
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(format_seconds))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
