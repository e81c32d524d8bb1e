"""What the generated CUDA kernels share: a strip's multiply-adds, its stores, and compiling the source.

The direct kernels (:mod:`kernels._cuda_direct`, :mod:`kernels._cuda_layers`)
are Python source generated per shape, so that a thread's strip of ``rows``
outputs (``acc0``...) and its window of input values (``v0``...) are scalar
registers rather than a local array indexed at run time.
"""

from __future__ import annotations

import numpy as np


def strip_lines(rows: int, taps: int, indent: int, load, weight) -> list[str]:
    """One kernel column's work for a strip: load the window, slide ``taps`` weights down it.

    ``load(t)`` is the source of window value ``t`` (``rows + taps - 1`` of
    them), ``weight(a)`` that of tap row ``a``'s weight; each value loaded
    feeds up to ``rows`` outputs.
    """
    pad = " " * indent
    lines = [f"{pad}v{t} = {load(t)}" for t in range(rows + taps - 1)]
    for a in range(taps):
        lines.append(f"{pad}wt = {weight(a)}")
        lines += [f"{pad}acc{r} += wt * v{r + a}" for r in range(rows)]
    return lines


def store_lines(rows: int, target) -> list[str]:
    """Store the strip's outputs that lie inside the output: ``target(r)`` is the source of row ``r``'s element."""
    lines = ["    if j < ow:"]
    for r in range(rows):
        lines += [f"        if i + {r} < oh:", f"            {target(r)} = acc{r}"]
    return lines


def jit_source(source: str, name: str, label: str, dtype: str):
    """``numba.cuda.jit`` of the function ``name`` in ``source``, with ``cuda`` and ``DT`` (the dtype) in scope."""
    import numba
    from numba import cuda

    namespace = {"cuda": cuda, "DT": numba.from_dtype(np.dtype(dtype))}
    exec(compile(source, f"<numba-cuda {label}>", "exec"), namespace)
    return cuda.jit(namespace[name])
