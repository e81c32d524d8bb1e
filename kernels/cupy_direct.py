"""``cupy-direct``: ``cupyx.scipy.signal.correlate2d``/``convolve2d``, CuPy's own direct routine (``cuda`` extra).

Their modes are ours (``same`` centred like ``scipy.signal.correlate2d`` and
``convolve2d``), so the output needs no crop. Inputs are uploaded in
``prepare``; the first call there compiles CuPy's kernel.
"""

from __future__ import annotations

from ._cupy_peers import CupyPeerBackend, CupyPeerPrepared, cupyx_signal


class _CupyDirectPrepared(CupyPeerPrepared):
    def _compute(self):
        function = cupyx_signal.correlate2d if self.problem.op == "corr" else cupyx_signal.convolve2d
        return function(self._x, self._k, mode=self.problem.mode)


class CupyDirectBackend(CupyPeerBackend):
    name = "cupy-direct"
    method = "direct"
    prepared = _CupyDirectPrepared


BACKEND = CupyDirectBackend()
