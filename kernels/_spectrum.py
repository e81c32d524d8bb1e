"""The option shared by the FFT backends that can keep the kernel's spectrum from ``prepare``."""

from __future__ import annotations

from ._layer_fft import call_transforms
from ._problem import Problem


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

    def supports(self, problem: Problem) -> tuple[bool, str]:
        """The other bases' answer; with the spectrum cached, a weight gradient is refused (it has no fixed filters)."""
        if self.cache_kernel_spectrum and problem.pass_ == "backward-weights":
            return False, "backward-weights has no fixed filters whose spectra could be cached"
        return super().supports(problem)

    def transforms(self, problem: Problem) -> tuple[int, tuple[int, int]]:
        """For a layer, every transform one call of the FFT layer makes, of its tile shape; else the other bases'."""
        if not problem.is_layer:
            return super().transforms(problem)
        return call_transforms(problem, filters_once=self.cache_kernel_spectrum)
