"""What the bench scripts share: one case through the harness, its rows by backend."""

from __future__ import annotations

from harness import Case, Timing, run_case
from kernels import Problem


def rows_by_backend(problem: Problem, backends: list[str], timing: Timing) -> dict[str, dict]:
    """Run ``problem`` once on ``backends`` (interleaved by the harness); stop with its reason if any fails."""
    out = {}
    for row in run_case(Case(problem), backends, timing):
        if row["status"] != "ok":
            raise SystemExit(f"{row['backend']} {problem}: {row['status']} {row['reason']}")
        out[row["backend"]] = row
    return out
