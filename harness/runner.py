"""The sweep runner: inputs, reference, prepare, verify, then interleaved timing, case by case.

For each case every backend is prepared (untimed), run once and checked against
the float64 reference; only the backends whose output is right are timed, in
interleaved rounds. Rows go to the journal as soon as the case finishes.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kernels import fft_shape, get_backend, transform_plan

from . import store
from .accuracy import check_reference, check_result
from .config import Case, SweepConfig, Timing
from .exact import exact_error_metrics, exact_reference
from .gpu import collect_gpu, measure_gpu_peaks
from .inputs import make_inputs
from .memory import MEMORY_FRACTION, available_bytes, predicted_bytes
from .metadata import collect_metadata
from .peak import collect_matmul_peaks
from .timing import calibrate_loops, interleaved_samples, summarize, time_call
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
    """Callbacks the runner makes; the CLI subclasses this to draw a progress bar."""

    def start(self, total: int) -> None: ...

    def case_started(self, case: Case) -> None: ...

    def case_finished(self, case: Case, rows: list[dict]) -> None: ...

    def note(self, text: str) -> None:
        print(text)


def work_units(method: str, case: Case) -> float:
    """Size of a case's work for a method: direct flops, or 7.5 P log2 P for FFT (three transforms)."""
    if method == "fft":
        size = math.prod(fft_shape(case.problem))
        return 7.5 * size * math.log2(max(size, 2))
    return float(case.problem.direct_flops)


def order_cheapest_first(cases, methods) -> list[Case]:
    """Cases sorted by their summed work over the sweep's backends, cheapest first."""
    return sorted(cases, key=lambda c: sum(work_units(m, c) for m in methods))


class RatePredictor:
    """Seconds per work unit learnt from each backend's latest finished case (picklable)."""

    def __init__(self, rates: dict[str, float] | None = None):
        self._rate: dict[str, float] = dict(rates or {})

    @property
    def rates(self) -> dict[str, float]:
        """The learnt rates, to send to a worker process."""
        return dict(self._rate)

    def learn_rows(self, case: Case, rows: list[dict]) -> None:
        """Learn from every timed row of a finished case."""
        for row in rows:
            if row.get("status") == "ok" and row.get("median_s"):
                self.learn(row["backend"], row["method"], case, row["median_s"])

    def learn(self, backend: str, method: str, case: Case, seconds: float) -> None:
        self._rate[backend] = seconds / work_units(method, case)

    def case_seconds(self, backend: str, method: str, case: Case, timing: Timing) -> float | None:
        """Predicted wall time of verifying, warming up and sampling, or None before any data."""
        if backend not in self._rate:
            return None
        per_call = self._rate[backend] * work_units(method, case)
        return per_call * (2 + timing.warmup) + timing.samples * max(per_call, timing.min_sample_seconds)


def _options_text(backend) -> str:
    options = backend.options() if hasattr(backend, "options") else {}
    return ", ".join(f"{k}={v}" for k, v in sorted(options.items()))


def _identity(case: Case, backend, run_id: str) -> dict:
    p = case.problem
    return {
        "backend": backend.name,
        "method": backend.method,
        "options": _options_text(backend),
        "device": backend.device,
        "op": p.op,
        "mode": p.mode,
        "image_h": p.image_shape[0],
        "image_w": p.image_shape[1],
        "kernel_h": p.kernel_shape[0],
        "kernel_w": p.kernel_shape[1],
        "dtype": p.dtype,
        "threads": p.threads,
        "dist": case.dist,
        "seed": case.seed,
        "run_id": run_id,
        "status": "",
        "reason": "",
    }


def run_case(
    case: Case, backend_names, timing: Timing, predictor: RatePredictor | None = None, run_id: str = ""
) -> list[dict]:
    """Measure every backend on one case; returns one row per backend."""
    predictor = predictor or RatePredictor()
    problem = case.problem
    rows: dict[str, dict] = {}
    ready: dict[str, object] = {}
    first: dict[str, float] = {}
    ref = None
    image = kernel = None
    for name in backend_names:
        backend = get_backend(name)
        row = rows[name] = _identity(case, backend, run_id)
        ok, reason = backend.available()
        if not ok:
            row.update(status="unavailable", reason=reason)
            continue
        ok, reason = backend.supports(problem)
        if not ok:
            row.update(status="unsupported", reason=reason)
            continue
        predicted = predictor.case_seconds(name, backend.method, case, timing)
        if timing.max_case_seconds and predicted is not None and predicted > timing.max_case_seconds:
            row.update(
                status="skipped",
                predicted_s=predicted,
                reason=f"predicted {predicted:.3g} s > max_case_seconds {timing.max_case_seconds:g}",
            )
            continue
        needed, free = predicted_bytes(backend, problem), available_bytes()
        if free is not None and needed > MEMORY_FRACTION * free:
            row.update(
                status="skipped",
                predicted_bytes=needed,
                reason=f"needs about {needed / 2**20:.0f} MiB, {free / 2**20:.0f} MiB available",
            )
            continue
        if ref is None:
            image, kernel = make_inputs(case)
            ref = check_reference(problem, image, kernel)
            exact = exact_reference(problem, image, kernel, case.seed)
        try:
            prepared = backend.prepare(problem, image, kernel)
            row.update({f"{stage}_s": float(sec) for stage, sec in prepared.setup_seconds.items()})
            if backend.method == "fft":
                count, shape = transform_plan(backend, problem)
                row.update(fft_h=shape[0], fft_w=shape[1], fft_blocks=count)
            first[name] = time_call(prepared, 1, backend.device)
            output = prepared.result()
            status, reason, metrics = check_result(problem, output, ref)
            if output.shape == problem.out_shape:
                metrics = exact_error_metrics(output, exact, problem.dtype)
        except Exception as exc:  # a failing backend is a row, not a crashed sweep
            row.update(status="error", reason=f"{type(exc).__name__}: {exc}")
            continue
        row.update(metrics, status=status, reason=reason or getattr(prepared, "notes", ""), first_call_s=first[name])
        if status == "ok":
            ready[name] = prepared

    loops = {}
    devices = {name: rows[name]["device"] for name in ready}
    for name, prepared in ready.items():
        for _ in range(timing.warmup):
            time_call(prepared, 1, devices[name])
        estimate = min(first[name], time_call(prepared, 1, devices[name]))
        loops[name] = calibrate_loops(estimate, timing.min_sample_seconds)
    samples = interleaved_samples(ready, loops, timing.samples, devices)
    for name, values in samples.items():
        row = rows[name]
        stats = summarize(values, loops[name])
        row.update(stats, loops=loops[name], samples_s=[float(v) for v in values])
        row["gflops"] = problem.direct_flops / stats["median_s"] / 1e9
    return list(rows.values())


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
    ``interrupted``.
    """
    progress = progress or Progress()
    out_dir = Path(out_dir)
    archived = store.prepare_out_dir(out_dir, resume)
    journal_path = out_dir / store.JOURNAL
    previous = store.read_journal(journal_path) if resume else []
    done = {_row_key(r) for r in previous}
    methods = sorted({get_backend(n).method for n in config.backends})
    cases = order_cheapest_first(config.cases, methods)
    todo = [c for c in cases if not all((c.key, n) in done for n in config.backends)]
    run_id = time.strftime("%Y%m%dT%H%M%S")
    started = time.time()
    predictor = RatePredictor()
    interrupted = False
    progress.start(len(todo))
    previous = _configure(config.backend_options)
    worker = IsolatedRunner(config.backend_options, config.timing.case_timeout_seconds) if isolate else None
    stop = _StopOnInterrupt(progress)
    abandoned = False
    try:
        with store.Journal(journal_path) as journal, stop:
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
    uses_gpu = any(get_backend(n).device == "cuda" for n in config.backends)
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
    )
    if worker is not None and worker.numba:
        meta["numba"] = worker.numba  # as the worker that ran the kernels saw it
    store.write_metadata(out_dir, meta)
    frame = store.write_table(out_dir, store.read_journal(journal_path), peaks, gpu_peaks)
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
    row = _identity(case, get_backend(name), run_id)
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
        entry = {"method": backend.method, "device": backend.device, "available": backend.available()[0]}
        if hasattr(backend, "options"):
            entry["options"] = backend.options()
        if hasattr(backend, "metadata"):
            entry.update(backend.metadata())
        out[name] = entry
    return out


def _row_key(row: dict) -> tuple:
    key = (
        row["op"],
        row["mode"],
        row["image_h"],
        row["image_w"],
        row["kernel_h"],
        row["kernel_w"],
        row["dtype"],
        row["threads"],
        row["dist"],
        row["seed"],
    )
    return key, row["backend"]
