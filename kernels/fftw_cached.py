"""``fftw-cached``: ``fftw`` with the kernel's spectrum computed once in ``prepare``.

The fixed-weights case (CNN inference): the timed call transforms only the
image, multiplies and transforms back, two FFTs instead of three.
"""

from .fftw import FftwBackend

BACKEND = FftwBackend(name="fftw-cached", cache_kernel_spectrum=True)
