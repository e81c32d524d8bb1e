"""What a local sweep and a cluster sweep share: progress callbacks, Ctrl-C, case order, rows and the end of a run."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kernels import get_backend

from ..analyse.derived import add_rates
from ..measure.budget import work_units
from ..measure.case import new_row
from ..plan.cases import Case
from ..schema import JOURNAL, VISIT
from ..store.journal import read_journal
from ..store.tables import journal_table, write_metadata, write_table


@dataclass
class SweepResult:
    """What a sweep left behind.

    A ``fleet`` sweep writes one results directory per host under ``out_dir``:
    they are ``parts``, and ``frame`` is None (each part has its own table).
    ``cases_run`` and ``cases_skipped_as_done`` count visits: a case once per visit.
    """

    out_dir: Path
    frame: pd.DataFrame | None
    archived: Path | None
    interrupted: bool
    cases_run: int
    cases_skipped_as_done: int
    parts: list[Path] = field(default_factory=list)


class Progress:
    """Callbacks the sweep makes; the CLI subclasses this to draw a progress bar."""

    def start(self, total: int) -> None: ...

    def case_started(self, case: Case) -> None: ...

    def case_finished(self, case: Case, rows: list[dict]) -> None: ...

    def note(self, text: str) -> None:
        print(text)


class StopOnInterrupt:
    """First Ctrl-C: finish the cases in flight, then stop. Second: abandon them (KeyboardInterrupt).

    SIGTERM (``timeout``, a batch system's end of job, a shutdown) abandons the
    case in flight at once and sets ``terminated``: the sweep then writes the
    tables of what it finished before the SIGKILL that usually follows.
    """

    def __init__(self, progress: Progress):
        self.progress, self.requested, self.terminated, self._old = progress, False, False, {}

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.progress.note("Ctrl-C: stopping after the case in flight (press again to abandon it)")

    def _terminate(self, signum, frame) -> None:
        if self.terminated:
            return  # already writing the tables
        self.requested = self.terminated = True
        self.progress.note("SIGTERM: abandoning the case in flight, writing the tables of the finished ones")
        raise KeyboardInterrupt

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._old = {
                signal.SIGINT: signal.signal(signal.SIGINT, self._handle),
                signal.SIGTERM: signal.signal(signal.SIGTERM, self._terminate),
            }
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._old.items():
            signal.signal(signum, handler)
        self._old = {}


def order_cheapest_first(cases, methods) -> list[Case]:
    """Cases sorted by their summed work over the sweep's backends, cheapest first."""
    return sorted(cases, key=lambda c: sum(work_units(m, c) for m in methods))


def visit_order(cases: list[Case], visits: int) -> list[tuple[Case, int]]:
    """``(case, visit)`` in the order a sweep runs them: every case once, then every case again, ``visits`` times.

    Visits follow each other rather than repeating a case in place, so each
    case's visits are as far apart in time as the run allows.
    """
    return [(case, visit) for visit in range(visits) for case in cases]


def missing_backends(config, case: Case, visit: int, done: set) -> list[str]:
    """The backends of ``config`` still to measure in this visit of ``case``; ``done`` holds journal row keys."""
    return [n for n in config.backends if (case.key, n, visit) not in done]


def tag_visit(rows: list[dict], visit: int) -> list[dict]:
    """``rows`` with their ``visit`` recorded, for the journal."""
    for row in rows:
        row[VISIT] = visit
    return rows


def failed_row(case: Case, name: str, status: str, reason: str, run_id: str) -> dict:
    """The row of a backend whose worker died or hung before it could report."""
    row = new_row(case, get_backend(name), run_id)
    row.update(status=status, reason=reason)
    return row


def write_run(out_dir: Path, meta: dict, matmul_peaks: dict, gpu_peaks: dict) -> pd.DataFrame:
    """Write the metadata, then the table from the journal with its rate columns; returns the table."""
    write_metadata(out_dir, meta)
    frame = add_rates(journal_table(read_journal(out_dir / JOURNAL), meta), matmul_peaks, gpu_peaks)
    write_table(out_dir, frame)
    return frame
