"""What a Dask worker runs for a cluster sweep: one case, or an account of its host.

The driver (:mod:`harness.sweep.cluster`) ships these functions by name, so a
worker needs convbench installed, and the cases as plain data (frozen
dataclasses). A worker process serves case after case, so compiled kernels
and FFTW plans stay warm as they do in the local worker process.
"""

from __future__ import annotations

import os
import socket
import time

from ..machine.cpu import collect_metadata, collect_numba
from ..machine.fingerprint import this_machine
from ..machine.gpu import collect_gpu, collect_gpu_state, measure_gpu_peaks
from ..machine.peaks import collect_matmul_peaks
from ..machine.state import collect_machine_state
from ..measure.budget import RatePredictor
from ..measure.case import run_case
from ..plan.cases import Case, Timing
from .backends import backend_metadata, configure_backends
from .threads import apply_thread_settings

SHARED_HOST_WARNING = "shared host: other cases timed on this host at the same time (cluster one_case_per = 'worker')"

_options_in_force: dict = {}  # backend options this worker process applied, and what they replaced
_previous_options: dict = {}


def _apply_options(options: dict) -> None:
    """Apply a sweep's backend options once per worker process; undo another sweep's first."""
    global _options_in_force, _previous_options
    if options == _options_in_force:
        return
    configure_backends(_previous_options)
    _previous_options = configure_backends(options)
    _options_in_force = dict(options)


def run_remote_case(
    case: Case,
    names: list[str],
    timing: Timing,
    rates: dict,
    run_id: str,
    backend_options: dict,
    shared_host: bool,
) -> dict:
    """Measure one case here; returns its rows and where and how long it ran.

    Returns
    -------
    dict
        ``rows``, ``case_seconds`` (wall time on the worker, for the
        scheduling overhead), the Dask worker's name and host, the host
        name, ``pid``, ``machine`` and ``numba``.
    """
    apply_thread_settings()  # this process's entry point for convbench: before any kernel starts a pool
    _apply_options(backend_options)
    started = time.perf_counter()
    rows = run_case(case, names, timing, RatePredictor(rates), run_id)
    seconds = time.perf_counter() - started
    if shared_host:
        for row in rows:
            if row["status"] == "ok":
                row["warning"] = "; ".join(w for w in (row.get("warning"), SHARED_HOST_WARNING) if w)
    from distributed import get_worker  # only ever called on a Dask worker

    worker = get_worker()
    return {
        "rows": rows,
        "case_seconds": seconds,
        "worker_name": str(worker.name),
        "worker_host": worker.address.split("://")[-1].rsplit(":", 1)[0],
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "machine": this_machine()[0],
        "numba": collect_numba(),
    }


def describe_host(names: list[str], backend_options: dict, uses_gpu: bool) -> dict:
    """This host's metadata (machine, versions, thread environment), its fingerprint, backends and state now."""
    apply_thread_settings()
    _apply_options(backend_options)
    machine, print_ = this_machine()
    meta = collect_metadata(None)
    meta.update(machine_id=machine, fingerprint=print_, backends=backend_metadata(names), pid=os.getpid())
    meta["machine_state_start"] = collect_machine_state()
    if uses_gpu:
        meta["gpu_state_start"] = collect_gpu_state()
    return meta


def host_peaks(dtypes: list[str], threads: list[int], uses_gpu: bool) -> dict:
    """The rates rows are compared with, measured on this host after its cases, and its state at the end."""
    out = {
        "matmul_gflops": collect_matmul_peaks(dtypes, threads),
        "machine_state_end": collect_machine_state(),
        "numba": collect_numba(),
    }
    if uses_gpu:
        out.update(gpu=collect_gpu(), gpu_peaks=measure_gpu_peaks(), gpu_state_end=collect_gpu_state())
    return out
