"""Issue 18's goals for ``spread`` on a Dask cluster, measured in one run.

    .venv/bin/python bench/cluster.py [--workers 2] [--cases 24]

Runs one sweep (single-threaded cases, fixed samples, so every case costs
about the same wherever it runs) three times in one process: locally (a
worker process, as ``convbench run`` does), then with ``--cluster local``
over W workers, and prints

  1. the cases' wall time on the cluster over the local one (goal: <= 1.2 / W),
     with the start-up (cluster, workers, the first imports) beside it, as
     the goal allows it on top;
  2. the scheduling overhead per case: a case's round trip on the driver less
     the time the worker spent on it (goal: <= 50 ms);
  3. that both runs hold exactly the same case keys.

Caveat: a LocalCluster's workers share this host, so this measures the
machinery (scheduling, shipping cases and rows, journaling), not W distinct
hosts; the cases are single-threaded so W of them fit on W cores, and each row
says it was timed on a shared host.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import _runs  # noqa: F401  (first: applies the thread settings)

from harness.plan.config import parse_cluster, parse_config
from harness.schema import row_key
from harness.store.journal import read_journal
from harness.store.tables import read_metadata
from harness.sweep.common import Progress
from harness.sweep.orchestrate import run_sweep


class _Clock(Progress):
    """When the cases began (the sweep's ``start``) and when the last one finished."""

    def __init__(self):
        self.began = self.last = None

    def start(self, total):
        self.began = time.perf_counter()

    def case_finished(self, case, rows):
        self.last = time.perf_counter()

    def note(self, text):
        pass


def _config(cases: int):
    images = [96 + 16 * i for i in range(cases // 2)]
    raw = {
        "sweep": {
            "backends": ["numba-cpu", "numpy-fft"],
            "image_size": images,
            "kernel_size": [3, 7],
            "threads": 1,
        },
        # A fixed number of fixed-length samples (no stopping rule, which would take more samples on the
        # shared, noisier host): a case costs the same on any worker.
        "timing": {"samples": 5, "warmup": 1, "min_sample_seconds": 0.04, "max_case_seconds": 0, "ci_target": 0},
    }
    return parse_config(raw, "bench-cluster")


def _timed(config, out: Path, **kwargs) -> tuple[float, float, set]:
    clock = _Clock()
    started = time.perf_counter()
    run_sweep(config, out, progress=clock, **kwargs)
    keys = {row_key(r) for r in read_journal(out / "journal.jsonl")}
    return clock.began - started, clock.last - clock.began, keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cases", type=int, default=24)
    args = parser.parse_args()
    config = _config(args.cases)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # A first local run pays for numba's on-disk cache, so neither timed run does.
        run_sweep(_config(2), tmp / "warm", progress=_Clock())
        local_start, local_cases, local_keys = _timed(config, tmp / "local")
        settings = parse_cluster({"address": "local", "workers": args.workers})
        start, cases, keys = _timed(config, tmp / "spread", cluster=settings)
        cluster = read_metadata(tmp / "spread")["cluster"]
    overhead, slots = cluster["scheduling_overhead_s"], cluster["slots"]
    w = args.workers
    ratio = cases / local_cases
    print(f"{len(config.cases)} cases x {len(config.backends)} backends, {w} workers ({time.strftime('%F %T')})")
    print(f"  local : start-up {local_start:6.2f} s, cases {local_cases:6.2f} s")
    print(f"  spread: start-up {start:6.2f} s, cases {cases:6.2f} s  (cases per slot: "
          f"{', '.join(str(s['cases']) for s in slots.values())})")
    print(f"1. spread / local (cases) = {ratio:.3f}; goal <= 1.2/W = {1.2 / w:.3f}: "
          f"{'met' if ratio <= 1.2 / w else 'NOT met'}")
    print(f"2. scheduling overhead per case: median {1e3 * overhead['median']:.1f} ms, "
          f"max {1e3 * overhead['max']:.1f} ms over {overhead['cases']} cases; goal <= 50 ms: "
          f"{'met' if overhead['max'] <= 0.05 else 'NOT met'}")
    print(f"3. same case keys as the local run: {keys == local_keys} ({len(keys)} rows)")


if __name__ == "__main__":  # a LocalCluster spawns workers that import this module
    main()
