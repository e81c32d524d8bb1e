"""A sweep's cases on a Dask cluster: one case at a time per host, rows journaled as they come back.

Two modes. ``spread`` splits the cases of one sweep over hosts of one kind
(same machine fingerprint; refused otherwise) into one table. ``fleet`` runs
every case on every host, one results directory and table per host, to
compare machines (``convbench merge`` joins them).

A timing means something only if nothing else ran on its host meanwhile, so
the usual "keep every worker busy" is wrong here. Every case asks for the
worker resource ``convbench`` (one unit), so a worker runs one case at a
time, and before anything runs the driver checks that each host has exactly
one worker that offers it (``one_case_per = "host"``). ``one_case_per =
"worker"`` allows several per host for trying things out (``--cluster
local``) and marks every row it times as from a shared host.

Cases travel as data (frozen dataclasses) to :mod:`harness.sweep.remote` on
the workers. Rows are appended to the journal as each case comes back, so the
progress bar, Ctrl-C and ``--resume`` work as for a local sweep. A worker that
dies mid-case costs that case only: Dask runs it again elsewhere; a case that
kills every worker it lands on, or hangs past the hard limit, is run again
one backend at a time, and the culprit gets ``error`` or ``timeout`` with
the reason, as in the local worker process. A scheduler that goes away leaves
the journal whole: the run stops with :class:`ClusterError` and ``--resume``
carries on (on the cluster or locally).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import dataclasses
import logging
import re
import statistics
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from kernels import get_backend

from ..errors import ClusterError, UsageError, allowed_list
from ..machine.fingerprint import differences
from ..measure.budget import RatePredictor
from ..plan.cases import JOBQUEUE_SYSTEMS, Case, ClusterSettings, SweepConfig
from ..schema import JOURNAL, row_key
from ..store.archive import prepare_out_dir
from ..store.journal import Journal, read_journal
from ..store.lock import DirectoryLock
from . import remote
from .common import (
    StopOnInterrupt,
    SweepResult,
    failed_row,
    missing_backends,
    order_cheapest_first,
    tag_visit,
    visit_order,
    write_run,
)

RESOURCE = "convbench"
_POLL_SECONDS = 0.25
_START_SECONDS = 120.0  # a worker's first case imports convbench and compiles its kernels
_CONNECT_SECONDS = 60.0
_THREAD_CAPS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
# Dask's nanny starts workers with OMP/MKL/OpenBLAS capped at one thread; a benchmark must not inherit that.
_WORKER_ENVIRON = {"MALLOC_TRIM_THRESHOLD_": 65536}
_JOBQUEUE_CLASSES = {
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
    "lsf": "LSFCluster",
    "htcondor": "HTCondorCluster",
    "moab": "MoabCluster",
    "oar": "OARCluster",
}


@dataclass(frozen=True, order=True)
class Slot:
    """Where one case at a time runs: a host (``one_case_per = "host"``) or one worker.

    ``restriction`` is what Dask's ``workers=`` gets to pin a case there (the
    host, or the worker's name, which survives the worker being restarted).
    """

    name: str
    host: str
    restriction: str | int = field(compare=False)  # a worker's name may be a number (LocalCluster's are)
    workers: tuple[str, ...] = field(compare=False)

    @property
    def is_worker(self) -> bool:
        """True for a slot that is one worker (``one_case_per = "worker"``), False for a whole host."""
        return self.name != self.host


def find_slots(workers: dict, one_case_per: str) -> list[Slot]:
    """The slots of a cluster from ``Client.scheduler_info()["workers"]``.

    Raises
    ------
    UsageError
        If no worker offers the ``convbench`` resource, or (``one_case_per =
        "host"``) a host has more than one worker that offers it.
    """
    offering = {a: w for a, w in workers.items() if (w.get("resources") or {}).get(RESOURCE, 0) >= 1}
    if not offering:
        raise UsageError(
            f"no worker of the cluster offers the {RESOURCE!r} resource, so none may time a case; start one worker "
            f"per host with: dask worker SCHEDULER --nthreads 1 --resources {RESOURCE}=1"
        )
    if one_case_per == "worker":
        return sorted(Slot(f"{w['host']}-worker-{w['name']}", w["host"], w["name"], (a,)) for a, w in offering.items())
    by_host = collections.defaultdict(list)
    for address, worker in offering.items():
        by_host[worker["host"]].append(address)
    crowded = {host: addresses for host, addresses in by_host.items() if len(addresses) > 1}
    if crowded:
        host, addresses = sorted(crowded.items())[0]
        raise UsageError(
            f"host {host} has {len(addresses)} workers offering {RESOURCE!r} ({allowed_list(sorted(addresses))}): "
            "two cases would time on one host at once; give the resource to one worker per host, or set "
            "cluster.one_case_per = 'worker' to accept timings from a shared host (every row is marked)"
        )
    return sorted(Slot(host, host, host, tuple(addresses)) for host, addresses in by_host.items())


def _import_distributed():
    try:
        import dask
        import distributed
    except ImportError as exc:
        raise UsageError(
            f"running on a cluster needs Dask's distributed scheduler ({exc}); install it with: "
            "pip install 'convbench[cluster]'"
        ) from None
    return dask, distributed


def make_jobqueue_cluster(settings: ClusterSettings):
    """A dask-jobqueue cluster (not yet scaled) for ``settings.address`` in :data:`JOBQUEUE_SYSTEMS`.

    Each job is one worker (``processes = 1``) that offers the ``convbench``
    resource and keeps its libraries' thread pools uncapped; on SLURM the job
    asks for its node alone (``--exclusive``), since two jobs on one node
    would time at once (the host check refuses that anyway).

    Raises
    ------
    UsageError
        If dask-jobqueue is missing or rejects ``[cluster.jobqueue]``.
    """
    try:
        import dask_jobqueue
    except ImportError as exc:
        raise UsageError(
            f"cluster.address {settings.address!r} needs dask-jobqueue ({exc}): pip install 'convbench[cluster]'"
        ) from None
    kwargs = dict(settings.jobqueue)
    if kwargs.get("processes", 1) != 1:
        raise UsageError("cluster.jobqueue.processes must be 1: one worker per job, one case at a time per host")
    kwargs["processes"] = 1
    kwargs["worker_extra_args"] = [*kwargs.get("worker_extra_args", []), "--resources", f"{RESOURCE}=1"]
    environ = str(_WORKER_ENVIRON).replace('"', "'")
    kwargs["job_script_prologue"] = [
        *kwargs.get("job_script_prologue", []),
        f'export DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON="{environ}"',
    ]
    if settings.address == "slurm":
        directives = list(kwargs.get("job_extra_directives", []))
        kwargs["job_extra_directives"] = directives if "--exclusive" in directives else [*directives, "--exclusive"]
    kwargs.setdefault("silence_logs", "error")
    cluster_class = vars(dask_jobqueue)[_JOBQUEUE_CLASSES[settings.address]]
    try:
        return cluster_class(**kwargs)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"cluster.jobqueue: {exc}") from None


@contextlib.contextmanager
def open_cluster(settings: ClusterSettings):
    """A connected ``distributed.Client`` for ``settings``, with its workers up; closes what it started."""
    dask, distributed = _import_distributed()
    with contextlib.ExitStack() as stack:
        config = {"distributed.nanny.pre-spawn-environ": _WORKER_ENVIRON}
        if settings.address == "local":
            config["distributed.scheduler.allowed-failures"] = 1  # one retry elsewhere, then one backend at a time
        stack.enter_context(dask.config.set(config))
        expected = settings.workers
        if settings.address == "local":
            target = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=settings.workers,
                    threads_per_worker=1,
                    processes=True,
                    resources={RESOURCE: 1},
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            )
        elif settings.address in JOBQUEUE_SYSTEMS:
            target = stack.enter_context(make_jobqueue_cluster(settings))
            target.scale(jobs=settings.workers)
        else:
            target, expected = settings.address, 1
        try:
            client = stack.enter_context(distributed.Client(target, timeout=_CONNECT_SECONDS))
            client.wait_for_workers(expected, timeout=None if settings.address in JOBQUEUE_SYSTEMS else 600)
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"cannot reach the Dask cluster at {settings.address!r}: {exc}") from None
        yield client


@dataclass
class _Destination:
    """One results directory the cluster's rows go to (one for ``spread``, one per host for ``fleet``)."""

    out_dir: Path
    slot: Slot | None = None
    archived: Path | None = None
    done: set = field(default_factory=set)
    journal: Journal | None = None
    cases: int = 0


@dataclass
class _Job:
    case: Case
    names: list[str]
    dest: _Destination
    slot: Slot | None = None  # fleet: the host it must run on
    visit: int = 0  # which visit of the case (``timing.visits``)
    alone: str = ""  # why this backend runs alone (the whole case crashed or hung)
    siblings: list | None = None  # [backends of the split case still to report], shared by its lone jobs
    submitted: float = 0.0
    exclusive: bool = False  # runs with nothing else in flight: the retry of a lone job whose worker died


def run_on_cluster(config: SweepConfig, out_dir: Path, settings: ClusterSettings, resume: bool, progress):
    """Run ``config`` on the cluster of ``settings``; see the module docstring. Returns a ``SweepResult``.

    Raises
    ------
    UsageError
        For a cluster that cannot be reached or used as asked (no slots, a
        ``spread`` over different machines).
    ClusterError
        If the cluster goes away mid-sweep; every finished case is saved.
    """
    _, distributed = _import_distributed()
    started = time.time()
    run_id = time.strftime("%Y%m%dT%H%M%S")
    uses_gpu = any(get_backend(n).device == "cuda" for n in config.backends)
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(open_cluster(settings))
        slots = find_slots(client.scheduler_info(n_workers=-1)["workers"], settings.one_case_per)
        hosts = _describe(client, slots, config, uses_gpu)
        if settings.mode == "spread":
            _check_one_machine(hosts)
            dests = [_Destination(Path(out_dir))]
        else:
            dests = [_Destination(Path(out_dir) / _dir_name(slot.name), slot) for slot in slots]
        warnings = _thread_warnings(hosts, config)
        for warning in warnings:
            progress.note(f"cluster: {warning}")
        for dest in dests:
            stack.enter_context(DirectoryLock(dest.out_dir))
            dest.archived = prepare_out_dir(dest.out_dir, resume)
            dest.done = {row_key(r) for r in read_journal(dest.out_dir / JOURNAL)} if resume else set()
            dest.journal = stack.enter_context(Journal(dest.out_dir / JOURNAL))
        methods = sorted({get_backend(n).method for n in config.backends})
        cases = order_cheapest_first(config.cases, methods)
        queues = {dest.slot: collections.deque() for dest in dests}
        for dest in dests:
            for case, visit in visit_order(cases, config.timing.visits):
                names = missing_backends(config, case, visit, dest.done)
                if names:
                    queues[dest.slot].append(_Job(case, names, dest, dest.slot, visit=visit))
                    dest.cases += 1
        runner = _ClusterRunner(client, distributed, config, settings, slots, run_id, progress)
        interrupted = runner.run(queues, sum(d.cases for d in dests))
        peaks = _peaks(client, slots, cases, uses_gpu)
        sweep_seconds = round(time.time() - started, 3)
        results = []
        for dest in dests:
            dest.journal.close()
            dest_slots = [dest.slot] if dest.slot else slots
            meta = _metadata(config, settings, dest_slots, hosts, peaks, runner, warnings)
            meta.update(run_id=run_id, sweep_seconds=sweep_seconds, interrupted=interrupted)
            first = dest_slots[0].name
            frame = write_run(
                dest.out_dir, meta, peaks[first].get("matmul_gflops", {}), peaks[first].get("gpu_peaks", {})
            )
            skipped = len(cases) * config.timing.visits - dest.cases
            results.append(SweepResult(dest.out_dir, frame, dest.archived, interrupted, dest.cases, skipped))
    if settings.mode == "spread":
        return results[0]
    return dataclasses.replace(
        results[0],
        out_dir=Path(out_dir),
        frame=None,
        cases_run=sum(r.cases_run for r in results),
        cases_skipped_as_done=sum(r.cases_skipped_as_done for r in results),
        parts=[r.out_dir for r in results],
    )


class _ClusterRunner:
    """The driver's loop: keep one case in flight per slot, journal what comes back, handle faults."""

    def __init__(self, client, distributed, config, settings, slots, run_id, progress):
        self.client, self.distributed, self.config, self.settings = client, distributed, config, settings
        self.slots, self.run_id, self.progress = slots, run_id, progress
        self.predictor = RatePredictor()
        self.overheads: list[float] = []
        self.cases_by_slot: collections.Counter = collections.Counter()
        self.numba: dict = {}
        self.answered = 0
        self.in_flight: dict = {}
        self._cancelled = (concurrent.futures.CancelledError, asyncio.CancelledError)

    def run(self, queues: dict, total: int) -> bool:
        """Run every job of ``queues`` (keyed by slot, or None for any slot); True if interrupted."""
        self.progress.start(total)
        stop = StopOnInterrupt(self.progress)
        try:
            with stop:
                try:
                    self._loop(queues, stop)
                except KeyboardInterrupt:
                    self.client.cancel(list(self.in_flight))
                    return True
        except (OSError, TimeoutError) as exc:
            raise self._lost(exc) from None
        return stop.requested

    def _loop(self, queues: dict, stop) -> None:
        while True:
            if not stop.requested:
                self._fill(queues)
            if not self.in_flight:
                return
            try:
                finished, _ = self.distributed.wait(
                    list(self.in_flight), timeout=_POLL_SECONDS, return_when="FIRST_COMPLETED"
                )
            except (TimeoutError, self.distributed.TimeoutError):
                finished = ()
            except self._cancelled as exc:  # the client gave up reconnecting: every future was cancelled
                raise self._lost(type(exc).__name__) from None
            for future in finished:
                self._handle(future, self.in_flight.pop(future), queues)
            self._enforce_hard_limit(queues)

    def _fill(self, queues: dict) -> None:
        addresses = {}  # read from the scheduler once per fill, and only when a job is pinned
        if any(job.exclusive for job in self.in_flight.values()):
            return
        waiting = [queue for queue in queues.values() if queue and queue[0].exclusive]
        if waiting:  # let the cluster drain, then run it with nothing beside it
            if not self.in_flight:
                self._submit(waiting[0].popleft(), addresses)
            return
        busy = collections.Counter(job.slot for job in self.in_flight.values())
        for slot, queue in queues.items():
            capacity = 1 if slot is not None else len(self.slots)
            while queue and busy[slot] < capacity:
                self._submit(queue.popleft(), addresses)
                busy[slot] += 1

    def _submit(self, job: _Job, addresses: dict) -> None:
        pin = {}
        if job.slot:
            pin = {"workers": [_address_now(self.client, job.slot, addresses)], "allow_other_workers": False}
        future = self.client.submit(
            remote.run_remote_case,
            job.case,
            job.names,
            self.config.timing,
            self.predictor.rates,
            self.run_id,
            self.config.backend_options,
            self.settings.one_case_per == "worker",
            resources={RESOURCE: 1},
            pure=False,
            **pin,
        )
        job.submitted = time.perf_counter()
        self.in_flight[future] = job
        if not job.alone:
            self.progress.case_started(job.case)

    def _handle(self, future, job: _Job, queues: dict) -> None:
        if future.status == "finished":
            answer = future.result()
            self.answered += 1
            self.overheads.append(time.perf_counter() - job.submitted - answer["case_seconds"])
            self.cases_by_slot[self._slot_of(answer)] += 1
            self.numba = answer["numba"] or self.numba
            rows = answer["rows"]
            if job.alone:
                for row in rows:
                    if row["status"] == "ok":
                        note = f"timed alone: running the case with every backend {job.alone}"
                        row["reason"] = "; ".join(r for r in (row.get("reason"), note) if r)
            self._record(job, rows)
            return
        if future.status == "error":
            error = future.exception()
            if isinstance(error, self.distributed.KilledWorker):
                self._split(job, "error", f"killed the worker processes that ran it ({error})", queues)
                return
            text = "".join(traceback.format_exception(error, limit=5))
            raise RuntimeError(f"the harness failed on a cluster worker:\n{text}")
        raise self._lost(f"case {job.case.key} was {future.status} by the scheduler")

    def _record(self, job: _Job, rows: list[dict]) -> None:
        self.predictor.learn_rows(job.case, rows)
        job.dest.journal.append(tag_visit(rows, job.visit))
        if job.siblings is not None:
            job.siblings[0] -= 1
            if job.siblings[0]:
                return
        self.progress.case_finished(job.case, rows)

    def _split(self, job: _Job, status: str, reason: str, queues: dict) -> None:
        """After a crash or hang: one backend at a time, first in line; a lone backend gets its row.

        A lone backend whose worker died may have been a bystander: Dask assigns
        waiting jobs to a worker before its slot is free, and a crash there kills
        them too (CI saw numba-cpu's row say "killed the worker" beside a
        segfaulting backend). So it runs once more with nothing else in flight,
        and only a death then is its own.
        """
        if len(job.names) == 1 and status == "error" and not job.exclusive:
            queues[job.slot].appendleft(dataclasses.replace(job, exclusive=True))
            return
        if len(job.names) == 1:
            row = failed_row(job.case, job.names[0], status, reason, self.run_id)
            self._record(job, [row])
            return
        siblings = [len(job.names)]
        alone = [dataclasses.replace(job, names=[name], alone=reason, siblings=siblings) for name in job.names]
        queues[job.slot].extendleft(reversed(alone))

    def _enforce_hard_limit(self, queues: dict) -> None:
        limit = self.config.timing.case_timeout_seconds
        if not limit:
            return
        now = time.perf_counter()
        for future, job in list(self.in_flight.items()):
            allowance = limit + (_START_SECONDS if self.answered < len(self.slots) else 0.0)
            if now - job.submitted <= allowance:
                continue
            where = [a for a, keys in self.client.processing().items() if future.key in keys]
            self.client.cancel([future])
            del self.in_flight[future]
            if where:
                with contextlib.suppress(Exception):  # a worker without a nanny cannot be restarted
                    self.client.restart_workers(where)
            self._split(job, "timeout", f"killed after the hard limit of {limit:g} s per case", queues)

    def _slot_of(self, answer: dict) -> str:
        for slot in self.slots:
            if str(slot.restriction) in (answer["worker_name"], answer["worker_host"]):
                return slot.name
        return answer["worker_host"]

    def _lost(self, what) -> ClusterError:
        return ClusterError(
            f"lost the Dask cluster at {self.settings.address!r} ({what}); every finished case is saved in the "
            "journal: run the same command again with --resume (on the cluster or without --cluster)"
        )


def _on_each_slot(client, slots: list[Slot], function, *args, timeout: float | None = None) -> dict[str, object]:
    """``function(*args)`` run once on every slot (as a case would, under the resource); results by slot name."""
    addresses = {}
    futures = {
        slot.name: client.submit(
            function,
            *args,
            workers=[_address_now(client, slot, addresses)],
            allow_other_workers=False,
            resources={RESOURCE: 1},
            pure=False,
        )
        for slot in slots
    }
    return {name: future.result(timeout=timeout) for name, future in futures.items()}


def _address_now(client, slot: Slot, addresses: dict, wait: float | None = None) -> str:
    """What pins work to ``slot`` now: its host, or the current address of its worker.

    A worker restarted by its nanny (after a crash, or the hard limit) keeps
    its name but not its address, and Dask refuses a name that no live worker
    has; so wait up to ``wait`` seconds for it to come back. ``addresses`` (name
    to address) is filled from the scheduler on first use and shared by callers
    that pin many jobs at once.

    Raises
    ------
    ClusterError
        If the slot's worker does not come back in time.
    """
    if not slot.is_worker:
        return slot.host
    wait = _START_SECONDS if wait is None else wait
    deadline = time.monotonic() + wait
    while True:
        if not addresses:
            workers = client.scheduler_info(n_workers=-1)["workers"]
            addresses.update((w["name"], a) for a, w in workers.items() if (w.get("resources") or {}).get(RESOURCE))
        if slot.restriction in addresses:
            return addresses[slot.restriction]
        if time.monotonic() > deadline:
            raise ClusterError(
                f"the worker of slot {slot.name} left the cluster and did not come back within {wait:g} s; every "
                "finished case is saved in the journal: run the same command again with --resume"
            )
        addresses.clear()
        time.sleep(_POLL_SECONDS)


def _describe(client, slots: list[Slot], config: SweepConfig, uses_gpu: bool) -> dict[str, dict]:
    """Each slot's own account of its host (machine, versions, fingerprint, thread environment, backends)."""
    args = (list(config.backends), config.backend_options, uses_gpu)
    try:
        return _on_each_slot(client, slots, remote.describe_host, *args, timeout=_START_SECONDS)
    except TimeoutError:
        raise ClusterError(
            f"the cluster's workers did not describe their hosts within {_START_SECONDS:g} s; "
            "is convbench installed on every worker?"
        ) from None


def _check_one_machine(hosts: dict[str, dict]) -> None:
    """``spread`` merges timings from several hosts into one table: they must be the same machine."""
    (first, a), *others = sorted(hosts.items())
    different = [(name, meta) for name, meta in others if meta["machine_id"] != a["machine_id"]]
    if not different:
        return
    second, b = different[0]
    raise UsageError(
        f"cluster.mode 'spread' puts every host's timings in one table, but the hosts are different machines: "
        f"{first} is {a['machine_id']}, {second} is {b['machine_id']} "
        f"({'; '.join(differences(a['fingerprint'], b['fingerprint']))}); use cluster.mode = 'fleet' to measure "
        "each machine on its own"
    )


def _thread_warnings(hosts: dict[str, dict], config: SweepConfig) -> list[str]:
    """Hosts whose thread environment or cores cannot give the sweep's largest thread count."""
    wanted = max(case.problem.threads for case in config.cases)
    out = []
    for name, meta in sorted(hosts.items()):
        cores = (meta.get("machine") or {}).get("usable_cores")
        if cores is not None and cores < wanted:
            out.append(f"{name} has {cores} usable cores; cases with {wanted} threads oversubscribe it")
        for variable in _THREAD_CAPS:
            value = (meta.get("thread_env") or {}).get(variable)
            if value is not None and value.isdigit() and int(value) < wanted:
                out.append(
                    f"{name} runs its worker with {variable}={value}, below the sweep's {wanted} threads: "
                    "backends using that runtime get fewer threads than their rows say"
                )
    return out


def _peaks(client, slots: list[Slot], cases, uses_gpu: bool) -> dict[str, dict]:
    """Each slot's matmul (and GPU) rates and end state, measured there after the cases."""
    dtypes = sorted({c.problem.dtype for c in cases})
    threads = sorted({c.problem.threads for c in cases})
    try:
        # One slot at a time would be fairer to shared hosts; peaks are minor next to a lost run. Bounded: a
        # future pinned to a worker that a hard limit restarted just then waits for an address that is gone, and
        # without a timeout the finished run hung there (the suite, under load).
        return _on_each_slot(client, slots, remote.host_peaks, dtypes, threads, uses_gpu, timeout=_START_SECONDS)
    except (OSError, TimeoutError, ClusterError) as exc:
        return {slot.name: {"error": str(exc)} for slot in slots}


def _metadata(config, settings, slots, hosts, peaks, runner, warnings) -> dict:
    """The sidecar of one destination: its first host's account, the config, and every host of it."""
    first = hosts[slots[0].name]
    meta = {k: v for k, v in first.items() if k not in ("pid", "machine_state_start", "gpu_state_start")}
    peak = peaks[slots[0].name]
    meta.update(
        config=config.source,
        config_name=config.name,
        timing=dataclasses.asdict(config.timing),
        matmul_gflops=peak.get("matmul_gflops", {}),
        machine_state={"start": first.get("machine_state_start"), "end": peak.get("machine_state_end")},
    )
    if "gpu_peaks" in peak:
        meta.update(gpu=peak["gpu"], gpu_peaks=peak["gpu_peaks"])
        meta["gpu_state"] = {"start": first.get("gpu_state_start"), "end": peak.get("gpu_state_end")}
    if peak.get("numba") or runner.numba:
        meta["numba"] = peak.get("numba") or runner.numba
    machines: dict[str, dict] = {}
    for slot in slots:
        entry = machines.setdefault(hosts[slot.name]["machine_id"], {"fingerprint": hosts[slot.name]["fingerprint"]})
        entry.setdefault("hosts", []).append(slot.host)
    overheads = sorted(runner.overheads)
    meta["machines"] = machines
    meta["cluster"] = {
        "address": settings.address,
        "mode": settings.mode,
        "one_case_per": settings.one_case_per,
        "shared_host": settings.one_case_per == "worker",
        "warnings": warnings,
        "slots": {
            slot.name: {
                "host": slot.host,
                "workers": list(slot.workers),
                "machine": hosts[slot.name]["machine_id"],
                "cases": runner.cases_by_slot.get(slot.name, 0),
                "matmul_gflops": peaks[slot.name].get("matmul_gflops", {}),
                "thread_env": hosts[slot.name].get("thread_env", {}),
            }
            for slot in slots
        },
        "scheduling_overhead_s": {
            "median": statistics.median(overheads) if overheads else None,
            "max": overheads[-1] if overheads else None,
            "cases": len(overheads),
        },
    }
    return meta


def _dir_name(slot_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", slot_name).strip("-") or "host"
