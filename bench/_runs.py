"""What the bench scripts share: one case through the harness, its rows by backend."""

from __future__ import annotations

from harness.sweep.threads import apply_thread_settings

# The bench scripts are entry points: thread settings before numpy loads OpenBLAS and numba's pool starts.
apply_thread_settings()

import pandas as pd  # noqa: E402

from harness.analyse.derived import add_rates  # noqa: E402
from harness.measure.case import run_case  # noqa: E402
from harness.plan.cases import Case, Timing  # noqa: E402
from kernels import Problem  # noqa: E402


def rows_by_backend(problem: Problem, backends: list[str], timing: Timing) -> dict[str, dict]:
    """Run ``problem`` once on ``backends`` (interleaved by the harness), with ``gflops``; stop if any fails."""
    out = {}
    for row in add_rates(pd.DataFrame(run_case(Case(problem), backends, timing))).to_dict("records"):
        if row["status"] != "ok":
            raise SystemExit(f"{row['backend']} {problem}: {row['status']} {row['reason']}")
        out[row["backend"]] = row
    return out
