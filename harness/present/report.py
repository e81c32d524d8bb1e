"""``report.md``: one results directory as a Markdown page (machine, crossovers, model fits, plots).

Reads only the stored table and metadata; redraws the plots next to it so the
page and its pictures agree.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..analyse.break_even import break_even_calls
from ..analyse.crossovers import crossover_table, crossovers, fit_crossover_constant
from ..analyse.models import fit_models, model_table
from ..schema import REPORT
from ..store.tables import load_results, read_metadata
from .plots import plot_all
from .summary import status_counts


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value.is_integer() and abs(value) < 1e6:
            return str(int(value))
        return f"{value:.3g}"
    return str(value).replace("|", "\\|")


def markdown_table(frame: pd.DataFrame, columns: dict[str, str]) -> str:
    """A GitHub Markdown table of ``frame``'s ``columns`` (mapping column -> header)."""
    lines = ["| " + " | ".join(columns.values()) + " |", "|" + "---|" * len(columns)]
    for record in frame[list(columns)].to_dict("records"):
        lines.append("| " + " | ".join(_cell(record[c]) for c in columns) + " |")
    return "\n".join(lines)


def _machine_section(meta: dict) -> list[str]:
    machine = meta.get("machine", {})
    lines = ["## Machine", ""]
    lines.append(
        f"- CPU: {machine.get('cpu_model', '?')}, {machine.get('usable_cores', '?')} usable cores "
        f"({machine.get('logical_cpus', '?')} logical), {machine.get('arch', '?')}"
    )
    flags = machine.get("cpu_flags")
    if flags:
        lines.append(f"- SIMD flags: {', '.join(flags)}")
    for dtype, by_threads in (meta.get("matmul_gflops") or {}).items():
        rates = ", ".join(f"{rate:.0f} GFLOP/s on {threads} threads" for threads, rate in by_threads.items())
        lines.append(f"- matmul peak, {dtype}: {rates}")
    gpu = meta.get("gpu")
    if isinstance(gpu, dict) and gpu.get("name"):
        lines.append(f"- GPU: {gpu['name']}")
    versions = meta.get("versions") or {}
    if versions:
        lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    threads_env = meta.get("thread_env") or {}
    if threads_env:
        lines.append("- thread environment: " + ", ".join(f"{k}={v}" for k, v in sorted(threads_env.items())))
    lines.append(f"- platform: {machine.get('platform', '?')}; collected {meta.get('collected_at', '?')}")
    return lines + [""]


def _crossover_section(frame: pd.DataFrame, models) -> list[str]:
    best = crossovers(frame, models)
    lines = ["## Crossover", ""]
    if best.empty:
        return lines + ["No case had both a direct and an FFT result.", ""]
    lines += [
        "Smallest kernel size n at which the fastest FFT backend beats the fastest direct one, per image size. "
        "*measured* interpolates the log time ratio between the sweep points either side; *predicted* is where "
        "the fitted cost models cross; *ratio* is FFT time / direct time at the points below and at the crossover.",
        "",
    ]
    columns = {
        "op": "op",
        "mode": "mode",
        "dtype": "dtype",
        "threads": "threads",
        "dist": "inputs",
        "image_n": "image N",
        "crossover_n": "first n FFT wins",
        "crossover_interp": "measured n*",
        "crossover_predicted": "predicted n*",
        "ratio_below": "ratio below",
        "ratio_above": "ratio at",
        "direct_backend": "direct",
        "fft_backend": "FFT",
        "note": "note",
    }
    lines += [markdown_table(best, columns), ""]
    inside = best[best["bracketed"]]
    c = fit_crossover_constant(inside["image_n"], inside["crossover_interp"])
    if math.isfinite(c):
        lines += [f"Textbook fit through the measured (interpolated) crossovers: n² = {c:.3g} · log₂ N.", ""]
    pairs = crossover_table(frame, models)
    if len(pairs) > len(best):
        lines += ["Per (direct, FFT) pair:", "", markdown_table(pairs, columns), ""]
    return lines


def _model_section(models) -> list[str]:
    table = model_table(models)
    lines = [
        "## Cost models",
        "",
        "Fitted per backend by relative least squares. *rms* is the RMS relative error of the fit, *R²* is on "
        "log time. *complexity* is the textbook form (1, n², N², N² log N, n² N², N³) that fits best with one "
        "coefficient, and *its rms* the RMS of ln(fit / measured) for it (0.1 is about 10 % scatter).",
        "",
    ]
    if table.empty:
        return lines + ["No successful rows to fit.", ""]
    table = table.assign(rms_pct=100 * table["rms_rel"])
    columns = {
        "backend": "backend",
        "op": "op",
        "mode": "mode",
        "dtype": "dtype",
        "threads": "threads",
        "formula": "model",
        "slope": "slope (s / unit)",
        "intercept_s": "intercept (s)",
        "rms_pct": "rms %",
        "r2_log": "R² (log t)",
        "points": "points",
        "complexity": "complexity",
        "complexity_rms": "its rms",
    }
    return lines + [markdown_table(table, columns), ""]


def _break_even_section(frame: pd.DataFrame) -> list[str]:
    table = break_even_calls(frame)
    lines = [
        "## One-time costs",
        "",
        "Where a backend is faster per call but pays more once (compile, planning, first call), the number of "
        "calls at one size after which it wins: `convbench choose --calls N` takes them into account.",
        "",
    ]
    if table.empty:
        return lines + ["No pair of backends trades one-time cost against speed per call in this run.", ""]
    columns = {
        "faster": "faster per call",
        "cheaper_once": "cheaper once",
        "cases": "cases",
        "median_calls": "break-even calls (median)",
        "min_calls": "min",
        "max_calls": "max",
    }
    return lines + [markdown_table(table, columns), ""]


def write_report(results_dir: str | Path) -> Path:
    """Write ``report.md`` (and redraw the plots) in ``results_dir``; returns the report's path."""
    results_dir = Path(results_dir)
    frame = load_results(results_dir)
    meta = read_metadata(results_dir)
    name = meta.get("config_name") or results_dir.name
    ok = frame["status"] == "ok"
    lines = [f"# convbench report: {name}", ""]
    description = (meta.get("config") or {}).get("description")
    if description:
        lines += [description, ""]
    lines += [
        f"Run {meta.get('run_id', '?')}: {len(frame)} rows ({status_counts(frame)}), "
        f"{frame.loc[ok, 'backend'].nunique()} backends. Table: `results.parquet`; metadata: `metadata.json`.",
        "",
    ]
    lines += _machine_section(meta)
    models = fit_models(frame)
    if ok.any():
        plots = plot_all(frame, results_dir, title=name)
        lines += _crossover_section(frame, models)
        lines += _model_section(models)
        lines += _break_even_section(frame)
        lines += ["## Plots", ""]
        for path in plots:
            lines += [f"![{path.stem}]({path.name})", ""]
    else:
        lines += ["No successful rows: nothing to fit or plot.", ""]
    failed = frame[~ok]
    if not failed.empty:
        lines += ["## Rows that did not count", ""]
        cols = {"backend": "backend", "image_h": "H", "image_w": "W", "kernel_h": "kh", "kernel_w": "kw"}
        lines += [markdown_table(failed, {**cols, "status": "status", "reason": "reason"}), ""]
    path = results_dir / REPORT
    path.write_text("\n".join(lines))
    return path
