"""A whole sweep: cases cheapest first, each in the worker process, rows journaled, then table and metadata.

A sweep with a cluster hands its cases to :mod:`harness.sweep.cluster` instead.

The case itself is measured by :func:`harness.measure.case.run_case`; this
module orders the cases, skips the ones a resumed run already has, applies the
backends' options, survives Ctrl-C, and at the end measures the machine's
peaks, derives the rate columns and writes ``results.parquet`` and
``metadata.json``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from kernels import get_backend

from ..machine.cpu import collect_metadata
from ..machine.fingerprint import this_machine
from ..machine.gpu import collect_gpu, collect_gpu_state, measure_gpu_peaks
from ..machine.peaks import collect_matmul_peaks
from ..machine.state import collect_machine_state
from ..measure.budget import RatePredictor
from ..measure.case import run_case
from ..plan.cases import ClusterSettings, SweepConfig
from ..schema import JOURNAL, row_key
from ..store.archive import prepare_out_dir
from ..store.journal import Journal, read_journal
from ..store.lock import DirectoryLock
from .backends import backend_metadata, configure_backends
from .cluster import run_on_cluster
from .common import (
    Progress,
    StopOnInterrupt,
    SweepResult,
    failed_row,
    missing_backends,
    order_cheapest_first,
    tag_visit,
    visit_order,
    write_run,
)
from .threads import apply_thread_settings
from .worker import IsolatedRunner


def run_sweep(
    config: SweepConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: Progress | None = None,
    isolate: bool = True,
    cluster: ClusterSettings | None = None,
) -> SweepResult:
    """Run every case of ``config``, journaling rows into ``out_dir``, and write the table.

    With ``cluster`` (or the config's ``[cluster]``), the cases run on a Dask
    cluster instead (:mod:`harness.sweep.cluster`); otherwise here.

    With ``resume``, cases already in the directory's journal are not run again.
    With ``isolate`` (the default) cases run in a worker process, so a backend
    that crashes or hangs costs its own row, not the sweep. On Ctrl-C the case
    in flight is dropped, everything finished is written, and the result says
    ``interrupted``. One run at a time may write to a directory.

    Raises
    ------
    UsageError
        If the directory cannot be written or another run is writing to it,
        or the cluster cannot be used as asked.
    StorageError
        If the results stop being writable mid-sweep (finished cases stay saved).
    ClusterError
        If the cluster goes away mid-sweep (finished cases stay saved).
    """
    apply_thread_settings()  # an entry point: before this process starts any thread pool
    out_dir = Path(out_dir)
    cluster = cluster or config.cluster
    if cluster is not None:
        return run_on_cluster(config, out_dir, cluster, resume, progress or Progress())
    with DirectoryLock(out_dir):
        return _run_locked(config, out_dir, resume, progress or Progress(), isolate)


def _run_locked(config: SweepConfig, out_dir: Path, resume: bool, progress: Progress, isolate: bool) -> SweepResult:
    archived = prepare_out_dir(out_dir, resume)
    journal_path = out_dir / JOURNAL
    done = {row_key(r) for r in read_journal(journal_path)} if resume else set()
    methods = sorted({get_backend(n).method for n in config.backends})
    cases = order_cheapest_first(config.cases, methods)
    todo = [(c, p) for c, p in visit_order(cases, config.timing.visits) if missing_backends(config, c, p, done)]
    run_id = time.strftime("%Y%m%dT%H%M%S")
    started = time.time()
    predictor = RatePredictor()
    interrupted = False
    progress.start(len(todo))
    uses_gpu = any(get_backend(n).device == "cuda" for n in config.backends)
    gpu_state_start = collect_gpu_state() if uses_gpu else {}
    machine_state_start = collect_machine_state()
    previous = configure_backends(config.backend_options)
    worker = IsolatedRunner(config.backend_options, config.timing.case_timeout_seconds) if isolate else None
    stop = StopOnInterrupt(progress)
    abandoned = False
    try:
        with Journal(journal_path) as journal, stop:
            try:
                for case, visit in todo:
                    if stop.requested:
                        interrupted = True
                        break
                    progress.case_started(case)
                    names = missing_backends(config, case, visit, done)
                    if worker is None:
                        rows = run_case(case, names, config.timing, predictor, run_id)
                    else:
                        rows = worker.run(
                            case,
                            names,
                            config.timing,
                            predictor.rates,
                            run_id,
                            lambda name, status, reason, c=case: failed_row(c, name, status, reason, run_id),
                        )
                    predictor.learn_rows(case, rows)
                    journal.append(tag_visit(rows, visit))
                    progress.case_finished(case, rows)
            except KeyboardInterrupt:
                interrupted = abandoned = True
            interrupted = interrupted or stop.requested
        backend_meta = backend_metadata(config.backends)
    finally:
        if worker is not None:
            worker.close(abandon=abandoned)
        configure_backends(previous)
    sweep_seconds = round(time.time() - started, 3)
    # Measured after the sweep: BLAS threads spin after a matmul and would
    # slow whatever is timed next. Not after a SIGTERM: a SIGKILL may follow
    # within seconds, and the finished cases' tables come first.
    terminated = stop.terminated
    dtypes, threads = [c.problem.dtype for c in cases], [c.problem.threads for c in cases]
    peaks = {} if terminated else collect_matmul_peaks(dtypes, threads)
    gpu_state = {"start": gpu_state_start, "end": collect_gpu_state()} if uses_gpu else {}
    gpu_peaks = measure_gpu_peaks() if uses_gpu and not terminated else {}
    meta = collect_metadata(
        config.source,
        config_name=config.name,
        run_id=run_id,
        sweep_seconds=sweep_seconds,
        interrupted=interrupted,
        terminated=terminated,
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
    machine, print_ = this_machine()
    meta["machines"] = {machine: {"fingerprint": print_, "hosts": [meta["machine"]["hostname"]]}}
    frame = write_run(out_dir, meta, peaks, gpu_peaks)
    visits_done = len(cases) * config.timing.visits - len(todo)
    return SweepResult(out_dir, frame, archived, interrupted, len(todo), visits_done)
