"""convbench harness: everything that is not a kernel, in stages.

Data flows one way, ``configs/*.toml -> plan -> sweep -> measure -> store ->
analyse -> present``, and each stage is a folder:

- ``schema``, ``errors``: what a row is; the errors a user can act on;
- ``machine/``: CPU and GPU metadata, free memory, measured peak rates;
- ``plan/``: a config validated and expanded into cases; seeded inputs;
- ``measure/``: one case in one process: budget, reference, verify, time;
- ``store/``: the journal, the Parquet table and its metadata, archive, lock;
- ``analyse/``: derived columns, cost models, crossovers, chooser, comparisons;
- ``sweep/``: the orchestration of a whole sweep, the worker process, threads;
- ``present/``: plots, summary tables, report.md;
- ``cli/``: one module per command.

Each imports only those listed before it (the sweep drives measure and store,
and derives the rate columns with analyse before it writes the table).
Importing ``harness`` loads none of them and changes nothing in the process:
the names below are loaded on first use.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SCHEMA_VERSION": "schema",
    "UsageError": "errors",
    "StorageError": "errors",
    "Case": "plan.cases",
    "Timing": "plan.cases",
    "load_config": "plan.config",
    "parse_config": "plan.config",
    "make_inputs": "plan.inputs",
    "run_case": "measure.case",
    "run_sweep": "sweep.orchestrate",
    "load_results": "store.tables",
    "read_metadata": "store.tables",
    "choose": "analyse.chooser",
    "compare": "analyse.compare",
    "plot_all": "present.plots",
    "write_report": "present.report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = vars(importlib.import_module(f".{_EXPORTS[name]}", __name__))[name]
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
