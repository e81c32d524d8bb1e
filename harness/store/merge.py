"""Runs from several machines joined into one table, each row keeping the machine that measured it."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import UsageError
from ..machine.fingerprint import machines_of
from ..schema import CASE_COLUMNS
from .tables import load_results, read_metadata, standard_order

# A measurement is one backend on one case on one machine: merge never keeps two of them.
MERGE_KEY = (*CASE_COLUMNS, "backend", "machine")
# What the report shows per machine, kept from each run's metadata.
_PER_MACHINE = ("machine", "versions", "matmul_gflops", "gpu", "gpu_peaks", "thread_env", "collected_at", "run_id")


def merge_runs(dirs: list[str | os.PathLike]) -> tuple[pd.DataFrame, dict]:
    """One table and one metadata record from the runs in ``dirs`` (local, cluster or fleet runs).

    Each row keeps its ``machine``; ``metadata["machines"]`` holds one entry
    per machine (its fingerprint, hosts and what the report shows), and
    ``merged_from`` the runs. Derived rate columns are kept as each run
    computed them, against its own machine's peaks.

    Raises
    ------
    UsageError
        With fewer than two runs, or when two runs hold the same measurement
        (the same case and backend on the same machine): merge keeps every
        measurement and will not pick one.
    """
    if len(dirs) < 2:
        raise UsageError("merge needs two or more results directories")
    frames, machines, sources, owner = [], {}, [], {}
    for directory in map(Path, dirs):
        frame, meta = load_results(directory), read_metadata(directory)
        if frame["machine"].isna().any():
            raise UsageError(f"{str(directory)!r} has rows of an unknown machine (no metadata.json): cannot merge it")
        for machine, entry in machines_of(meta).items():
            merged = machines.setdefault(machine, {"fingerprint": entry.get("fingerprint", {}), "hosts": []})
            merged["hosts"] = sorted({*merged["hosts"], *(h for h in entry.get("hosts", []) if h)})
            merged.setdefault("metadata", {k: meta[k] for k in _PER_MACHINE if k in meta})
        keys = frame[list(MERGE_KEY)].astype(str).agg("|".join, axis=1)
        for key in keys.unique():
            if key in owner:
                machine = frame.loc[keys == key, "machine"].iloc[0]
                raise UsageError(
                    f"{str(owner[key])!r} and {str(directory)!r} both measured the same cases on machine {machine}: "
                    "merge keeps every measurement and will not choose between two; merge one of them "
                    "(compare the two with convbench compare)"
                )
            owner[key] = directory
        frames.append(frame)
        sources.append(
            {
                "dir": str(directory),
                "run_id": meta.get("run_id"),
                "config_name": meta.get("config_name"),
                "machines": sorted(frame["machine"].unique()),
            }
        )
    names = {s["config_name"] for s in sources}
    meta = {
        "config_name": names.pop() if len(names) == 1 else "merged",
        "merged_from": sources,
        "machines": machines,
    }
    return standard_order(pd.concat(frames, ignore_index=True)), meta
