"""The option shared by the FFT backends that can keep the kernel's spectrum from ``prepare``."""

from __future__ import annotations


class SpectrumCaching:
    """An FFT backend that can keep the kernel's spectrum from ``prepare`` (fixed weights, as in CNN inference).

    Parameters
    ----------
    name : str
        Registry name.
    cache_kernel_spectrum : bool
        Transform the kernel in ``prepare`` instead of in every call.
    """

    def __init__(self, name: str, cache_kernel_spectrum: bool = False):
        self.name = name
        self.cache_kernel_spectrum = cache_kernel_spectrum

    def metadata(self) -> dict:
        """What the other bases record, and whether the kernel's spectrum is cached."""
        return {**super().metadata(), "kernel_spectrum_cached": self.cache_kernel_spectrum}
