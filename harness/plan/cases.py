"""What a sweep is once validated: its cases, how each is timed, and the backends' options."""

from __future__ import annotations

from dataclasses import dataclass, field

from kernels import Problem

from ..schema import case_identity, case_key

# How GPU work is timed: calls back to back (warm), or L2 flushed before each call (cold).
CACHE_STATES = ("warm", "cold")


@dataclass(frozen=True)
class Timing:
    """How each (case, backend) is timed.

    ``samples`` timed samples after ``warmup`` untimed calls; each sample runs
    enough calls to last ``min_sample_seconds``; a case whose predicted time is
    above ``max_case_seconds`` is skipped (0 disables the budget); a case still
    running after ``case_timeout_seconds`` is stopped and recorded as ``timeout``
    (isolated sweeps only; 0 disables the limit). ``cache`` is ``warm`` (calls
    back to back) or ``cold`` (GPU rows: L2 flushed before every call).
    After the ``samples`` rounds, a backend whose median's 95 % interval is
    wider than +-``ci_target`` gets more rounds, up to ``max_samples`` samples
    (the stopping rule; ``ci_target = 0`` turns it off).
    ``visits`` spreads each case's samples over the run: the sweep visits every
    case ``visits`` times, all cases once and then again, each visit timed as above,
    so drift of the machine over minutes shows in a case's spread instead of
    passing for a difference between runs (pyperf's worker processes). With
    visits, each visit takes ``samples`` rounds and ``ci_target`` applies to
    the interval of the visit medians: a row whose visits disagree by more is
    warned about.
    """

    samples: int = 5
    warmup: int = 1
    min_sample_seconds: float = 0.005
    max_case_seconds: float = 60.0
    case_timeout_seconds: float = 600.0
    cache: str = "warm"
    ci_target: float = 0.02
    max_samples: int = 30
    visits: int = 1


@dataclass(frozen=True)
class Case:
    """One point of a sweep: a problem, the input distribution and its seed."""

    problem: Problem
    dist: str = "uniform"
    seed: int = 0

    def identity(self) -> dict:
        """The case columns of its rows (see :mod:`harness.schema`)."""
        return case_identity(self.problem, self.dist, self.seed)

    @property
    def key(self) -> tuple:
        """Identity of the case, as stored in each row (:func:`harness.schema.case_key`)."""
        return case_key(self.identity())


CLUSTER_MODES = ("spread", "fleet")
ONE_CASE_PER = ("host", "worker")
# Batch systems reached through dask-jobqueue: ``address = "slurm"`` makes a SLURMCluster.
JOBQUEUE_SYSTEMS = ("slurm", "pbs", "sge", "lsf", "htcondor", "moab", "oar")


@dataclass(frozen=True)
class ClusterSettings:
    """Where and how a sweep runs on a Dask cluster (``[cluster]`` in a config, ``--cluster`` on the command line).

    ``address``: ``"local"`` (a LocalCluster started for the run), a scheduler
    address such as ``"tcp://head:8786"``, or a batch system of
    :data:`JOBQUEUE_SYSTEMS` (dask-jobqueue; ``jobqueue`` holds its arguments).
    ``mode``: ``spread`` splits the cases over hosts of one kind; ``fleet``
    runs every case on every host, one table per host. ``one_case_per``:
    ``host`` (the default) lets one case time on a host at a time;
    ``worker`` allows one per worker, several per host, and flags every row
    as timed on a shared host (the default for ``local``). ``workers``: how
    many to start (``local`` and batch systems).
    """

    address: str
    mode: str = "spread"
    workers: int = 2
    one_case_per: str = "host"
    jobqueue: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: what to run and how to time it."""

    name: str
    backends: tuple[str, ...]
    cases: tuple[Case, ...]
    timing: Timing = field(default_factory=Timing)
    description: str = ""
    source: dict = field(default_factory=dict, compare=False)
    backend_options: dict = field(default_factory=dict)
    cluster: ClusterSettings | None = None
