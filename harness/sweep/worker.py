"""Running cases in a worker process, so a crash, a segfault or a hang costs one case, not the sweep.

One long-lived worker (started with ``spawn``: forking a process whose OpenMP
pools are running can deadlock) runs case after case, so compiled kernels and
FFTW plans stay warm. When it dies or passes the hard time limit, the case is
run again one backend at a time, each in a fresh worker: the backend that
crashes or hangs gets ``error`` or ``timeout`` with the reason, and the others
are measured alone (their rows say so).
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import traceback

from ..machine.cpu import collect_numba
from ..measure.budget import RatePredictor
from ..measure.case import run_case
from ..plan.cases import Case, Timing
from .backends import configure_backends
from .threads import apply_thread_settings

_START_SECONDS = 120.0  # imports and the first JIT compilation happen inside the first case


def _serve(conn, backend_options: dict) -> None:
    """Worker loop: receive (case, names, timing, rates, run_id), send back rows or an error."""
    apply_thread_settings()  # this process's own entry point: before any kernel starts a thread pool
    # Ctrl-C is the parent's to handle: it lets the case in flight finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    configure_backends(backend_options)
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        case, names, timing, rates, run_id = request
        try:
            rows = run_case(case, names, timing, RatePredictor(rates), run_id)
            # The kernels ran here: only this process knows numba's threading layer.
            conn.send(("rows", (rows, collect_numba())))
        except Exception:  # run_case turns backend failures into rows; this is the harness itself
            conn.send(("failed", traceback.format_exc(limit=5)))


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class IsolatedRunner:
    """Runs cases in a worker process; survives the worker's death or hang.

    Parameters
    ----------
    backend_options : dict
        Per-backend options to apply in every worker.
    hard_limit : float
        Seconds a case may run before its worker is killed (0: no limit).
    """

    def __init__(self, backend_options: dict | None = None, hard_limit: float = 0.0):
        self.backend_options = backend_options or {}
        self.hard_limit = hard_limit
        self._ctx = mp.get_context("spawn")
        self._proc = None
        self._conn = None
        self._cases_served = 0
        self.numba: dict = {}  # numba's threading layer as the worker last reported it

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(child, self.backend_options), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        self._cases_served = 0

    def _stop(self, kill: bool = False) -> None:
        if self._proc is None:
            return
        if kill:
            self._proc.kill()
        else:
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._conn.close()
        self._proc = self._conn = None

    def close(self, abandon: bool = False) -> None:
        """Stop the worker; with ``abandon``, kill it without waiting for its case."""
        self._stop(kill=abandon)

    def _ask(self, case: Case, names, timing: Timing, rates: dict, run_id: str):
        """``("rows", rows)``, ``("failed", text)``, ``("crashed", reason)`` or ``("timeout", reason)``."""
        if self._proc is None:
            self._start()
        limit = self.hard_limit or None
        if limit is not None and self._cases_served == 0:
            limit += _START_SECONDS
        self._conn.send((case, list(names), timing, rates, run_id))
        if self._conn.poll(limit):
            try:
                answer = self._conn.recv()
            except EOFError:  # the worker died: its end of the pipe closed
                self._proc.join(timeout=10)
            else:
                self._cases_served += 1
                if answer[0] == "rows":
                    rows, self.numba = answer[1]
                    return "rows", rows
                return answer
        elif self._proc.is_alive():
            self._stop(kill=True)
            return "timeout", f"killed after the hard limit of {self.hard_limit:g} s per case"
        reason = f"worker process {_describe_exit(self._proc.exitcode)}"
        self._stop(kill=True)
        return "crashed", reason

    def run(self, case: Case, names, timing: Timing, rates: dict, run_id: str, base_rows) -> list[dict]:
        """Rows for ``case``; after a crash or hang, one backend at a time to find the culprit.

        ``base_rows(name, status, reason)`` makes the row of a backend that never returned.
        """
        kind, payload = self._ask(case, names, timing, rates, run_id)
        if kind == "rows":
            return payload
        if kind == "failed":
            raise RuntimeError(f"the harness failed in the worker:\n{payload}")
        if len(names) == 1:
            status = "timeout" if kind == "timeout" else "error"
            return [base_rows(names[0], status, payload)]
        rows = []
        for name in names:
            alone = self.run(case, [name], timing, rates, run_id, base_rows)
            for row in alone:
                if row["status"] == "ok":
                    note = f"timed alone: running the case with every backend {payload}"
                    row["reason"] = "; ".join(r for r in (row.get("reason"), note) if r)
            rows.extend(alone)
        return rows
