"""Sweeps on a Dask cluster: slots, the one-case-per-host rule, LocalCluster runs, lost workers and schedulers.

Every LocalCluster here runs its workers on this one host, so the timings are
from a shared host and every row says so; what is tested is what the cluster
machinery promises: the case keys, nothing lost, nothing duplicated.
"""

import collections
import itertools
import os
import signal
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from harness.errors import ClusterError, UsageError  # noqa: E402
from harness.plan.config import load_config, parse_cluster, parse_config  # noqa: E402
from harness.schema import row_key  # noqa: E402
from harness.store.journal import read_journal  # noqa: E402
from harness.store.tables import load_results, read_metadata  # noqa: E402
from harness.sweep import cluster as cluster_module  # noqa: E402
from harness.sweep.cluster import RESOURCE, Slot, find_slots, make_jobqueue_cluster  # noqa: E402
from harness.sweep.common import Progress  # noqa: E402
from harness.sweep.orchestrate import run_sweep  # noqa: E402
from harness.sweep.remote import SHARED_HOST_WARNING  # noqa: E402

CONFIGS = Path(__file__).parents[3] / "configs"


def _config(images, backends=("numba-cpu", "numpy-fft"), kernels=(3,), **timing):
    raw = {
        "sweep": {"backends": list(backends), "image_size": list(images), "kernel_size": list(kernels), "threads": 1},
        "timing": {"samples": 5, "min_sample_seconds": 0.0, **timing},
    }
    return parse_config(raw, "t")


def _keys(rows) -> list:
    return sorted(row_key(r) for r in rows)


_PORTS = itertools.count(1000)


def _worker(host, name, resources=None, address=None):
    # A fresh port each time: ports from hash(name) % 1000 collided once in CI, and two workers became one.
    return address or f"tcp://{host}:{next(_PORTS)}", {
        "host": host,
        "name": name,
        "resources": {RESOURCE: 1} if resources is None else resources,
    }


# --- slots: one case at a time per host, enforced -----------------------------------------------------------


def test_slots_are_hosts_and_a_host_with_two_offering_workers_is_refused():
    workers = dict([_worker("10.0.0.1", "a"), _worker("10.0.0.2", "b"), _worker("10.0.0.2", "c", resources={})])
    slots = find_slots(workers, "host")
    assert [s.name for s in slots] == ["10.0.0.1", "10.0.0.2"]
    assert [s.restriction for s in slots] == ["10.0.0.1", "10.0.0.2"]  # pinned by host: survives a restart
    crowded = dict([_worker("10.0.0.1", "a"), _worker("10.0.0.1", "b", address="tcp://10.0.0.1:2")])
    with pytest.raises(UsageError, match="host 10.0.0.1 has 2 workers .*one_case_per = 'worker'"):
        find_slots(crowded, "host")
    shared = find_slots(crowded, "worker")
    assert [s.restriction for s in shared] == ["a", "b"]


def test_a_cluster_without_the_resource_says_how_to_start_workers():
    with pytest.raises(UsageError, match=f"--resources {RESOURCE}=1"):
        find_slots(dict([_worker("h", "a", resources={})]), "host")


def test_spread_over_different_machines_is_refused_with_what_differs():
    base = {"cpu_model": "X", "usable_cores": 2, "memory_gib": 24, "gpus": [], "versions": {"numpy": "2.4"}}
    other = {**base, "versions": {"numpy": "2.5"}}
    hosts = {"a": {"machine_id": "x-2c-1", "fingerprint": base}, "b": {"machine_id": "x-2c-2", "fingerprint": other}}
    with pytest.raises(UsageError, match="numpy 2.4 vs 2.5.*fleet"):
        cluster_module._check_one_machine(hosts)
    cluster_module._check_one_machine({"a": hosts["a"], "c": hosts["a"]})


def test_capped_thread_environment_on_a_host_is_reported():
    config = parse_config({"sweep": {"backends": ["numpy-fft"], "image_size": 16, "kernel_size": 3, "threads": 2}})
    hosts = {"h": {"machine": {"usable_cores": 2}, "thread_env": {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "4"}}}
    warnings = cluster_module._thread_warnings(hosts, config)
    assert len(warnings) == 1 and "OMP_NUM_THREADS=1" in warnings[0]


# --- configs ------------------------------------------------------------------------------------------------


def test_cluster_table_is_validated_and_local_defaults_to_shared_workers():
    assert parse_cluster({"address": "local"}).one_case_per == "worker"
    assert parse_cluster({"address": "tcp://head:8786", "mode": "fleet"}).one_case_per == "host"
    assert parse_cluster({}, address="local").address == "local"
    for bad, message in (
        ({"address": "slrum"}, "did you mean 'slurm'"),
        ({"address": "local", "mode": "fleat"}, "did you mean 'fleet'"),
        ({"address": "local", "workers": 0}, "cluster.workers"),
        ({"address": "local", "jobqueue": {"cores": 2}}, "batch system"),
        ({"address": "local", "hosts": 2}, "unknown key cluster.'hosts'"),
    ):
        with pytest.raises(UsageError, match=message):
            parse_cluster(bad)


def test_slurm_example_config_makes_a_job_with_its_node_alone_and_the_resource():
    pytest.importorskip("dask_jobqueue")
    config = load_config(CONFIGS / "slurm.toml")
    assert config.cluster.address == "slurm" and config.cluster.mode == "fleet"
    with make_jobqueue_cluster(config.cluster) as jobs:
        script = jobs.job_script()
    assert "#SBATCH --exclusive" in script
    assert f"--resources {RESOURCE}=1" in script
    assert "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON" in script  # no OMP_NUM_THREADS=1 cap on the worker


# --- LocalCluster runs --------------------------------------------------------------------------------------


def test_spread_on_a_local_cluster_has_exactly_the_case_keys_of_a_local_run(tmp_path):
    config = _config([16, 24, 32], visits=2)
    local = run_sweep(config, tmp_path / "local", isolate=False)
    spread = run_sweep(config, tmp_path / "spread", cluster=parse_cluster({"address": "local", "workers": 2}))
    keys = _keys(read_journal(tmp_path / "spread" / "journal.jsonl"))
    assert keys == _keys(read_journal(tmp_path / "local" / "journal.jsonl"))
    assert {key[2] for key in keys} == {0, 1}  # every visit of every case
    frame = spread.frame
    assert len(frame) == len(local.frame) == 6 and (frame["visits"] == 2).all()
    assert (frame["status"] == "ok").all()
    assert frame["warning"].str.contains(SHARED_HOST_WARNING, regex=False).all()
    assert frame["machine"].nunique() == 1 and frame["machine"].iloc[0] == local.frame["machine"].iloc[0]
    meta = read_metadata(tmp_path / "spread")
    assert meta["cluster"]["shared_host"] and len(meta["cluster"]["slots"]) == 2
    assert sum(s["cases"] for s in meta["cluster"]["slots"].values()) == 6  # case visits: 3 cases, 2 visits
    assert list(meta["machines"]) == [frame["machine"].iloc[0]]
    assert meta["matmul_gflops"]  # measured on a worker


def test_fleet_runs_every_case_on_every_slot(tmp_path):
    config = _config([16, 24])
    result = run_sweep(config, tmp_path, cluster=parse_cluster({"address": "local", "mode": "fleet"}))
    assert len(result.parts) == 2 and result.frame is None
    for part in result.parts:
        assert _keys(load_results(part).to_dict("records")) == _keys(
            [{**c.identity(), "backend": b} for c in config.cases for b in config.backends]
        )
        assert len(read_metadata(part)["cluster"]["slots"]) == 1


class _KillOneWorker(Progress):
    """Kills a worker process (a child of this one: the LocalCluster's nannies live here) once, mid-sweep."""

    def __init__(self, after: int):
        self.after, self.finished, self.killed = after, 0, None

    def case_finished(self, case, rows):
        self.finished += 1
        if self.finished == self.after:
            import psutil

            workers = [w for w in psutil.Process().children() if "spawn_main" in " ".join(w.cmdline())]
            self.killed = workers[0].pid
            os.kill(self.killed, signal.SIGKILL)

    def note(self, text):
        pass


def test_sigkill_of_a_worker_mid_sweep_loses_and_duplicates_nothing(tmp_path):
    images = list(range(16, 56))  # 40 cases
    config = _config(images, backends=("numba-cpu",), min_sample_seconds=0.02)
    progress = _KillOneWorker(after=8)
    run_sweep(config, tmp_path, progress=progress, cluster=parse_cluster({"address": "local"}))
    assert progress.killed is not None
    keys = _keys(read_journal(tmp_path / "journal.jsonl"))
    assert len(keys) == len(set(keys)) == 40
    assert keys == _keys([{**c.identity(), "backend": "numba-cpu"} for c in config.cases])


def test_segfaulting_backend_on_a_cluster_costs_only_its_own_row(with_plugin, tmp_path):
    config = _config([32], backends=("numba-cpu", "crashy", "demo-direct"))
    result = run_sweep(config, tmp_path, cluster=parse_cluster({"address": "local", "workers": 2}))
    frame = result.frame.set_index("backend")
    assert frame.loc["crashy", "status"] == "error" and "killed the worker" in frame.loc["crashy", "reason"]
    for name in ("numba-cpu", "demo-direct"):
        assert frame.loc[name, "status"] == "ok" and "timed alone" in frame.loc[name, "reason"]


def test_a_lone_backend_killed_beside_a_crash_runs_once_more_with_nothing_else_before_its_error_row():
    # CI saw numba-cpu's lone job marked "killed the worker" because Dask had queued it on the worker that the
    # segfaulting backend took down. It must run once more alone on the cluster; only a second death is its own.
    runner = cluster_module._ClusterRunner.__new__(cluster_module._ClusterRunner)
    runner.in_flight, runner.run_id, submitted, recorded = {}, "run", [], []
    runner._submit = lambda job, addresses: (submitted.append(job), runner.in_flight.__setitem__(len(submitted), job))
    runner._record = lambda job, rows: recorded.append(rows)
    case = _config([32], backends=("numba-cpu",)).cases[0]
    lone, other = cluster_module._Job(case, ["numba-cpu"], None), cluster_module._Job(case, ["demo-direct"], None)
    queues = {None: collections.deque([other])}
    runner._split(lone, "error", "killed the worker", queues)
    assert not recorded and queues[None][0].exclusive and queues[None][0].names == ["numba-cpu"]
    runner.in_flight["running"] = other
    runner._fill(queues)
    assert submitted == []  # waits until nothing else is in flight
    del runner.in_flight["running"]
    runner._fill(queues)
    runner._fill(queues)
    assert [job.names for job in submitted] == [["numba-cpu"]]  # and nothing beside it
    runner._split(submitted[0], "error", "killed the worker", queues)
    (rows,) = recorded
    assert rows[0]["status"] == "error" and "killed the worker" in rows[0]["reason"]


class _CloseCluster(Progress):
    def __init__(self, cluster, after: int):
        self.cluster, self.after, self.finished = cluster, after, 0

    def case_finished(self, case, rows):
        self.finished += 1
        if self.finished == self.after:
            self.cluster.close()

    def note(self, text):
        pass


def test_a_scheduler_that_goes_away_leaves_the_journal_whole_and_resume_finishes(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster_module, "_CONNECT_SECONDS", 3.0)  # how long the client tries to reconnect
    config = _config(list(range(16, 28)), backends=("numpy-fft",), min_sample_seconds=0.02)
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, resources={RESOURCE: 1}, dashboard_address=None
    )
    settings = parse_cluster({"address": cluster.scheduler_address, "one_case_per": "worker"})
    with pytest.raises(ClusterError, match="--resume"):
        run_sweep(config, tmp_path, cluster=settings, progress=_CloseCluster(cluster, after=3))
    partial = read_journal(tmp_path / "journal.jsonl")
    assert 3 <= len(partial) < 12
    run_sweep(config, tmp_path, resume=True, isolate=False)
    keys = _keys(read_journal(tmp_path / "journal.jsonl"))
    assert keys == _keys([{**c.identity(), "backend": "numpy-fft"} for c in config.cases])


def test_cli_run_with_cluster_local_and_a_missing_scheduler(tmp_path, capsys, monkeypatch):
    from harness.cli import main

    monkeypatch.setattr(cluster_module, "_CONNECT_SECONDS", 2.0)

    path = tmp_path / "c.toml"
    path.write_text(
        '[sweep]\nbackends = ["numpy-fft"]\nimage_size = [16, 20]\nkernel_size = 3\nthreads = 1\n'
        "[timing]\nsamples = 5\nmin_sample_seconds = 0.0\n"
    )
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--cluster", "local"]) == 0
    assert len(load_results(tmp_path / "o")) == 2
    assert main(["run", str(path), "--out", str(tmp_path / "p"), "--cluster", "tcp://127.0.0.1:9"]) == 2
    assert "cannot reach the Dask cluster" in capsys.readouterr().err


def test_slot_names_make_directory_names():
    assert cluster_module._dir_name("127.0.0.1-worker-0") == "127.0.0.1-worker-0"
    assert cluster_module._dir_name("tcp://a b/c") == "tcp-a-b-c"
    assert Slot("b", "h", "b", ()) > Slot("a", "h", 1, ())


class _RestartingScheduler:
    """A client whose worker ``0`` is away (being restarted by its nanny) for the first ``away`` looks."""

    def __init__(self, away: int):
        self.away, self.looks = away, 0

    def scheduler_info(self, n_workers):
        self.looks += 1
        back = self.looks > self.away
        return {"workers": dict([_worker("127.0.0.1", 0, address="tcp://127.0.0.1:2")] if back else [])}


def test_a_worker_slot_is_pinned_by_its_address_after_the_worker_comes_back(monkeypatch):
    # CI saw Dask refuse ``workers=[0]`` (a LocalCluster worker's name) while that worker was restarting.
    monkeypatch.setattr(cluster_module, "_POLL_SECONDS", 0.0)
    slot = Slot("127.0.0.1-worker-0", "127.0.0.1", 0, ("tcp://127.0.0.1:1",))
    client = _RestartingScheduler(away=3)
    assert cluster_module._address_now(client, slot, {}) == "tcp://127.0.0.1:2"
    assert client.looks == 4
    host = Slot("10.0.0.1", "10.0.0.1", "10.0.0.1", ("tcp://10.0.0.1:1",))
    assert cluster_module._address_now(client, host, {}) == "10.0.0.1"  # Dask pins to a host by its name


class _LostFuture:
    """A future whose worker is gone: its result never comes, so only a timeout ends the wait."""

    def result(self, timeout=None):
        if timeout is None:
            raise AssertionError("waited without a timeout on a result that never comes")
        raise TimeoutError(f"no result within {timeout} s")


class _LostPeaksClient(_RestartingScheduler):
    def submit(self, *args, **kwargs):
        return _LostFuture()


def test_peaks_that_never_come_back_are_recorded_as_errors_not_waited_for_forever():
    slot = Slot("127.0.0.1-worker-0", "127.0.0.1", 0, ("tcp://127.0.0.1:1",))
    peaks = cluster_module._peaks(_LostPeaksClient(away=0), [slot], [], uses_gpu=False)
    assert peaks == {slot.name: {"error": f"no result within {cluster_module._START_SECONDS} s"}}


def test_a_worker_that_never_comes_back_stops_the_run_with_resume_advice(monkeypatch):
    monkeypatch.setattr(cluster_module, "_POLL_SECONDS", 0.0)
    slot = Slot("127.0.0.1-worker-0", "127.0.0.1", 0, ("tcp://127.0.0.1:1",))
    with pytest.raises(ClusterError, match="worker-0 left the cluster .*--resume"):
        cluster_module._address_now(_RestartingScheduler(away=10**9), slot, {}, wait=0.05)


def test_a_case_past_the_hard_limit_on_a_cluster_is_cancelled_and_the_rest_run(with_plugin, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster_module, "_START_SECONDS", 12.0)  # the first cases import and compile
    config = _config([16, 48], backends=("demo-direct", "sleepy"), case_timeout_seconds=2)
    result = run_sweep(config, tmp_path, cluster=parse_cluster({"address": "local", "workers": 2}))
    frame = result.frame.set_index(["image_h", "backend"])
    assert frame.loc[(48, "sleepy"), "status"] == "timeout" and "hard limit" in frame.loc[(48, "sleepy"), "reason"]
    assert frame.loc[(48, "demo-direct"), "status"] == "ok" and frame.loc[(16, "sleepy"), "status"] == "ok"
    assert _keys(read_journal(tmp_path / "journal.jsonl")) == _keys(frame.reset_index().to_dict("records"))
