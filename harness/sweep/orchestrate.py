"""A whole sweep: cases cheapest first, each in the worker process, rows journaled, then table and metadata.

The case itself is measured by :func:`harness.measure.case.run_case`; this
module orders the cases, skips the ones a resumed run already has, applies the
backends' options, survives Ctrl-C, and at the end measures the machine's
peaks, derives the rate columns and writes ``results.parquet`` and
``metadata.json``.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kernels import get_backend

from ..analyse.derived import add_rates
from ..machine.cpu import collect_metadata
from ..machine.gpu import collect_gpu, collect_gpu_state, measure_gpu_peaks
from ..machine.peaks import collect_matmul_peaks
from ..machine.state import collect_machine_state
from ..measure.budget import RatePredictor, work_units
from ..measure.case import new_row, run_case
from ..plan.cases import Case, SweepConfig
from ..schema import JOURNAL, row_key
from ..store.archive import prepare_out_dir
from ..store.journal import Journal, read_journal
from ..store.lock import DirectoryLock
from ..store.tables import rows_to_frame, write_metadata, write_table
from .threads import apply_thread_settings
from .worker import IsolatedRunner


@dataclass
class SweepResult:
    """What a sweep left behind."""

    out_dir: Path
    frame: pd.DataFrame
    archived: Path | None
    interrupted: bool
    cases_run: int
    cases_skipped_as_done: int


class Progress:
    """Callbacks the sweep makes; the CLI subclasses this to draw a progress bar."""

    def start(self, total: int) -> None: ...

    def case_started(self, case: Case) -> None: ...

    def case_finished(self, case: Case, rows: list[dict]) -> None: ...

    def note(self, text: str) -> None:
        print(text)


def order_cheapest_first(cases, methods) -> list[Case]:
    """Cases sorted by their summed work over the sweep's backends, cheapest first."""
    return sorted(cases, key=lambda c: sum(work_units(m, c) for m in methods))


def run_sweep(
    config: SweepConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: Progress | None = None,
    isolate: bool = True,
) -> SweepResult:
    """Run every case of ``config``, journaling rows into ``out_dir``, and write the table.

    With ``resume``, cases already in the directory's journal are not run again.
    With ``isolate`` (the default) cases run in a worker process, so a backend
    that crashes or hangs costs its own row, not the sweep. On Ctrl-C the case
    in flight is dropped, everything finished is written, and the result says
    ``interrupted``. One run at a time may write to a directory.

    Raises
    ------
    UsageError
        If the directory cannot be written or another run is writing to it.
    StorageError
        If the results stop being writable mid-sweep (finished cases stay saved).
    """
    apply_thread_settings()  # an entry point: before this process starts any thread pool
    out_dir = Path(out_dir)
    with DirectoryLock(out_dir):
        return _run_locked(config, out_dir, resume, progress or Progress(), isolate)


def _run_locked(config: SweepConfig, out_dir: Path, resume: bool, progress: Progress, isolate: bool) -> SweepResult:
    archived = prepare_out_dir(out_dir, resume)
    journal_path = out_dir / JOURNAL
    done = {row_key(r) for r in read_journal(journal_path)} if resume else set()
    methods = sorted({get_backend(n).method for n in config.backends})
    cases = order_cheapest_first(config.cases, methods)
    todo = [c for c in cases if not all((c.key, n) in done for n in config.backends)]
    run_id = time.strftime("%Y%m%dT%H%M%S")
    started = time.time()
    predictor = RatePredictor()
    interrupted = False
    progress.start(len(todo))
    uses_gpu = any(get_backend(n).device == "cuda" for n in config.backends)
    gpu_state_start = collect_gpu_state() if uses_gpu else {}
    machine_state_start = collect_machine_state()
    previous = _configure(config.backend_options)
    worker = IsolatedRunner(config.backend_options, config.timing.case_timeout_seconds) if isolate else None
    stop = _StopOnInterrupt(progress)
    abandoned = False
    try:
        with Journal(journal_path) as journal, stop:
            try:
                for case in todo:
                    if stop.requested:
                        interrupted = True
                        break
                    progress.case_started(case)
                    names = [n for n in config.backends if (case.key, n) not in done]
                    if worker is None:
                        rows = run_case(case, names, config.timing, predictor, run_id)
                    else:
                        rows = worker.run(
                            case,
                            names,
                            config.timing,
                            predictor.rates,
                            run_id,
                            lambda name, status, reason, c=case: _failed_row(c, name, status, reason, run_id),
                        )
                    predictor.learn_rows(case, rows)
                    journal.append(rows)
                    progress.case_finished(case, rows)
            except KeyboardInterrupt:
                interrupted = abandoned = True
            interrupted = interrupted or stop.requested
        backend_meta = _backend_metadata(config.backends)
    finally:
        if worker is not None:
            worker.close(abandon=abandoned)
        _configure(previous)
    sweep_seconds = round(time.time() - started, 3)
    # Measured after the sweep: BLAS threads spin after a matmul and would
    # slow whatever is timed next.
    peaks = collect_matmul_peaks([c.problem.dtype for c in cases], [c.problem.threads for c in cases])
    gpu_state = {"start": gpu_state_start, "end": collect_gpu_state()} if uses_gpu else {}
    gpu_peaks = measure_gpu_peaks() if uses_gpu else {}
    meta = collect_metadata(
        config.source,
        config_name=config.name,
        run_id=run_id,
        sweep_seconds=sweep_seconds,
        interrupted=interrupted,
        timing=dataclasses.asdict(config.timing),
        matmul_gflops=peaks,
        backends=backend_meta,
        gpu=collect_gpu() if uses_gpu else {},
        gpu_peaks=gpu_peaks,
        gpu_state=gpu_state,
        machine_state={"start": machine_state_start, "end": collect_machine_state()},
    )
    if worker is not None and worker.numba:
        meta["numba"] = worker.numba  # as the worker that ran the kernels saw it
    write_metadata(out_dir, meta)
    frame = add_rates(rows_to_frame(read_journal(journal_path)), peaks, gpu_peaks)
    write_table(out_dir, frame)
    return SweepResult(out_dir, frame, archived, interrupted, len(todo), len(cases) - len(todo))


class _StopOnInterrupt:
    """First Ctrl-C: finish the case in flight, then stop. Second: abandon it (KeyboardInterrupt)."""

    def __init__(self, progress: Progress):
        self.progress, self.requested, self._old = progress, False, None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.progress.note("Ctrl-C: stopping after the case in flight (press again to abandon it)")

    def __enter__(self) -> _StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


def _failed_row(case: Case, name: str, status: str, reason: str, run_id: str) -> dict:
    """The row of a backend whose worker died or hung before it could report."""
    row = new_row(case, get_backend(name), run_id)
    row.update(status=status, reason=reason)
    return row


def _configure(options: dict[str, dict]) -> dict[str, dict]:
    """Apply per-backend options; return what was in force before, to restore it."""
    previous = {}
    for name, values in options.items():
        backend = get_backend(name)
        previous[name] = backend.options()
        backend.configure(**values)
    return previous


def _backend_metadata(names) -> dict:
    """Each backend's own account of itself (options, planner, wisdom...), for the sidecar."""
    out = {}
    for name in names:
        backend = get_backend(name)
        available = backend.available()[0]
        entry = {"method": backend.method, "device": backend.device, "available": available}
        entry["options"] = backend.options()
        entry.update(backend.metadata())
        out[name] = entry
    return out
