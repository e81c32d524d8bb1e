"""The memory guard: a case predicted not to fit in free memory is skipped, not attempted."""

from __future__ import annotations

import math

from kernels import Problem

# Leave room for the reference, the interpreter and everything else.
MEMORY_FRACTION = 0.7


def available_bytes() -> int | None:
    """``MemAvailable`` from /proc/meminfo, or None where that is not known."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def predicted_bytes(backend, problem: Problem) -> int:
    """What a case will hold at once: the backend's own estimate, else a generic one.

    The generic estimate counts the inputs and output in the case's dtype and
    the float64 reference (output plus padded image), plus, for FFT backends,
    seven padded real arrays (three real buffers, two complex spectra).
    """
    if hasattr(backend, "memory_bytes"):
        return int(backend.memory_bytes(problem))
    item = problem.np_dtype.itemsize
    total = problem.input_bytes() + 8 * (problem.outputs + math.prod(problem.padded_shape))
    if backend.method == "fft":
        from kernels import fft_shape

        total += 7 * item * math.prod(fft_shape(problem))
    else:
        total += item * math.prod(problem.padded_shape)
    return total
