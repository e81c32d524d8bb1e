"""What the FFTW backends share: the planner-effort option, their metadata, and plans made with wisdom.

Plans are made under :func:`_wisdom.planning`, so wisdom saved on this machine
is used and new wisdom is saved; measuring planners scribble over the arrays
they plan for, so callers set their buffers' contents after planning.
"""

from __future__ import annotations

from ._base import BackendBase
from ._optional import optional_import

PLANNER_EFFORTS = ("FFTW_ESTIMATE", "FFTW_MEASURE", "FFTW_PATIENT", "FFTW_EXHAUSTIVE")
DEFAULT_PLANNER = "FFTW_MEASURE"

pyfftw = optional_import("pyfftw")


class FftwBackendBase(BackendBase):
    """An FFT backend on pyFFTW with the ``planner`` option (``[backend_options.NAME] planner = ...``)."""

    method = "fft"
    device = "cpu"
    requires = ("pyfftw",)
    install_hint = "pip install pyfftw"
    OPTIONS = {"planner": PLANNER_EFFORTS}
    planner = DEFAULT_PLANNER

    def metadata(self) -> dict:
        """Planner effort and the state of this machine's wisdom file."""
        if pyfftw is None:
            return {}
        from . import _wisdom

        path = _wisdom.wisdom_path()
        return {
            "planner": self.planner,
            # The file, not this process's state: with isolation, plans are made in a worker.
            "wisdom": {
                "path": str(path),
                "exists": path.exists(),
                "bytes": path.stat().st_size if path.exists() else 0,
            },
        }


def make_plans(transforms: dict, planner: str, threads: int) -> dict:
    """FFTW plans by name, made with this machine's wisdom.

    Parameters
    ----------
    transforms : dict
        Name -> ``(input, output, axes, inverse)``; an inverse may destroy its input.
    planner : str
        One of :data:`PLANNER_EFFORTS`.
    threads : int
        Threads each plan uses.
    """
    from . import _wisdom

    plans = {}
    with _wisdom.planning():
        for name, (source, target, axes, inverse) in transforms.items():
            flags = (planner, "FFTW_DESTROY_INPUT") if inverse else (planner,)
            direction = "FFTW_BACKWARD" if inverse else "FFTW_FORWARD"
            plans[name] = pyfftw.FFTW(source, target, axes=axes, direction=direction, flags=flags, threads=threads)
    return plans
