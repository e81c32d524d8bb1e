"""``cupy-fft-cached``: ``cupy-fft`` with the kernel's spectrum computed once in ``prepare`` (fixed weights)."""

from .cupy_fft import CupyFftBackend

BACKEND = CupyFftBackend(name="cupy-fft-cached", cache_kernel_spectrum=True)
