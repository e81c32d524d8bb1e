# ruff: noqa: E402  (the thread settings must be applied before the imports below)
"""convbench harness: everything that is not a kernel.

Config -> cases -> runner (inputs, reference, prepare, verify, time) -> store
(journal, Parquet, metadata) -> model (cost models, crossovers) -> plots, summary,
report, chooser and comparisons.
"""

from .environment import apply_thread_settings

apply_thread_settings()  # before anything can start numba's OpenMP pool

from .accuracy import TOLERANCE, check_result, error_metrics, reference
from .chooser import choice_quality, choose, predict_times, validate_choices
from .compare import Comparison, compare, mann_whitney
from .config import Case, SweepConfig, Timing, load_config, parse_config
from .errors import UsageError
from .inputs import DISTRIBUTIONS, make_inputs
from .metadata import collect_metadata
from .model import (
    CostModel,
    best_by_method,
    complexity_fit,
    crossover_curve,
    crossover_table,
    crossovers,
    fit_crossover_constant,
    fit_models,
    model_table,
    predicted_crossover,
)
from .plots import plot_all, plot_crossover, plot_model, plot_times, plot_winner
from .report import write_report
from .runner import SweepResult, run_case, run_sweep
from .store import COLUMNS, load_results, read_journal, read_metadata

__all__ = [
    "COLUMNS",
    "Case",
    "Comparison",
    "CostModel",
    "DISTRIBUTIONS",
    "SweepConfig",
    "SweepResult",
    "TOLERANCE",
    "Timing",
    "UsageError",
    "apply_thread_settings",
    "best_by_method",
    "check_result",
    "choice_quality",
    "choose",
    "collect_metadata",
    "compare",
    "complexity_fit",
    "crossover_curve",
    "crossover_table",
    "crossovers",
    "error_metrics",
    "fit_crossover_constant",
    "fit_models",
    "load_config",
    "load_results",
    "make_inputs",
    "mann_whitney",
    "model_table",
    "parse_config",
    "plot_all",
    "plot_crossover",
    "plot_model",
    "plot_times",
    "plot_winner",
    "predict_times",
    "predicted_crossover",
    "read_journal",
    "read_metadata",
    "reference",
    "run_case",
    "run_sweep",
    "validate_choices",
    "write_report",
]
