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
from ..analyse.layer_models import (
    fit_layer_models,
    held_out_choices,
    is_layer,
    layer_model_table,
    layer_rows,
    layer_winners,
    regret_summary,
    win_counts,
)
from ..analyse.models import fit_models, model_table
from ..schema import JOURNAL, METADATA, REPORT, TABLE
from ..store.tables import load_results, read_metadata
from .plots import plot_all, plot_overlay
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


def _layer_section(layers: pd.DataFrame) -> list[str]:
    """A layer set: wins per backend and pass, the layer models, and the chooser on held-out layers."""
    counts = win_counts(layer_winners(layers))
    choices = held_out_choices(layers)
    regret = regret_summary(choices)
    models = layer_model_table(fit_layer_models(layers))
    lines = [
        "## CNN layers",
        "",
        "Which backend is fastest on how many of the set's layer cases (each layer at each batch), and the "
        "median of its margin (the runner-up's time over its own):",
        "",
        markdown_table(counts, {"pass": "pass", "winner": "fastest", "cases": "cases",
                                "median_margin": "median margin"}),  # fmt: skip
        "",
        "Layer cost models: one per backend and pass over every layer, `t = slope * work + per_byte * bytes + "
        "intercept`, with the channels inside the work (direct and im2col: B K C n² oh ow multiply-adds; FFT: its "
        "transforms and weighted complex products; Winograd: its tile counts) and in the bytes a call must move "
        "(inputs and output, Winograd's transformed tiles and filters, im2col's columns).",
        "",
        markdown_table(models.assign(rms_pct=100 * models["rms_rel"]), {"backend": "backend", "pass": "pass",
                       "slope": "slope (s / unit)", "per_byte": "per byte (s)", "intercept": "intercept (s)",
                       "rms_pct": "rms %",
                       "points": "points"}) if not models.empty else "No layer models.",  # fmt: skip
        "",
    ]
    if regret.get("cases"):
        lines += [
            f"The chooser on held-out layers (each layer's backend picked by models fitted on the other layers, "
            f"{regret['cases']} cases): regret median {regret['median']:.3f}, 95th percentile {regret['p95']:.3f}, "
            f"largest {regret['max']:.3f}; the fastest picked in {regret['fastest_share']:.0%}.",
            "",
        ]
    return lines


def _analysis_sections(frame: pd.DataFrame, plot_dir: Path, name: str, report_dir: Path) -> list[str]:
    """Crossover, cost models, break-even and plots (drawn in ``plot_dir``) of one machine's rows."""
    if not (frame["status"] == "ok").any():
        return ["No successful rows: nothing to fit or plot.", ""]
    plots = plot_all(frame, plot_dir, title=name)
    layers = layer_rows(frame)
    lines = _layer_section(layers) if not layers.empty else []
    # Size grids of single images; a layer's own grid would hold one layer shape.
    single = frame[~is_layer(frame)]
    if (single["status"] == "ok").any():
        models = fit_models(single)
        lines += _crossover_section(single, models) + _model_section(models)
    lines += _break_even_section(frame)
    lines += ["## Plots", ""]
    for path in plots:
        lines += [f"![{path.stem}]({path.relative_to(report_dir).as_posix()})", ""]
    return lines


def _machines_sections(frame: pd.DataFrame, meta: dict, machines: list[str], results_dir: Path, name: str) -> list[str]:
    """A merged run: the machines side by side (their crossovers in one table), then each machine alone."""
    entries = meta.get("machines") or {}
    lines = ["## Machines", ""]
    rows = []
    for machine in machines:
        entry = entries.get(machine, {})
        print_ = entry.get("fingerprint", {})
        rows.append(
            {
                "machine": machine,
                "cpu": print_.get("cpu_model"),
                "cores": print_.get("usable_cores"),
                "memory": print_.get("memory_gib"),
                "gpus": ", ".join(print_.get("gpus") or []) or "-",
                "hosts": ", ".join(entry.get("hosts") or []),
                "rows": int((frame["machine"] == machine).sum()),
            }
        )
    columns = {"machine": "machine", "cpu": "CPU", "cores": "cores", "memory": "GiB", "gpus": "GPUs"}
    lines += [markdown_table(pd.DataFrame(rows), {**columns, "hosts": "hosts", "rows": "rows"}), ""]
    per_machine = []
    for machine in machines:
        part = frame[frame["machine"] == machine]
        best = crossovers(part, fit_models(part))
        if not best.empty:
            per_machine.append(best.assign(machine=machine))
    if per_machine:
        lines += [
            "## Crossover by machine",
            "",
            "Smallest kernel size n at which the fastest FFT backend beats the fastest direct one, per machine and "
            "image size (*measured n* interpolates between the sweep points either side).",
            "",
        ]
        columns = {
            "machine": "machine",
            "op": "op",
            "mode": "mode",
            "dtype": "dtype",
            "threads": "threads",
            "image_n": "image N",
            "crossover_n": "first n FFT wins",
            "crossover_interp": "measured n*",
            "direct_backend": "direct",
            "fft_backend": "FFT",
        }
        lines += [markdown_table(pd.concat(per_machine, ignore_index=True), columns), ""]
    side_by_side = plot_overlay(
        {m: frame[frame["machine"] == m] for m in machines}, results_dir, prefix="machines"
    )
    lines += [f"![{path.stem}]({path.name})\n" for path in side_by_side]
    for machine in machines:
        part = frame[frame["machine"] == machine]
        lines += [f"# On {machine}", ""]
        lines += _machine_section(entries.get(machine, {}).get("metadata", {}))
        lines += _analysis_sections(part, results_dir / "machines" / machine, f"{name} on {machine}", results_dir)
    return lines


def _interrupted_note(meta: dict) -> str:
    how = "a SIGTERM ended it" if meta.get("terminated") else "it was interrupted"
    return f"**Not every case ran:** {how}; `convbench run CONFIG --out DIR --resume` runs the rest."


def _unfinished_lines(frame: pd.DataFrame, backends: int, machines: list[str]) -> list[str]:
    """What a report of a journal alone says: the sweep stopped before its tables and metadata."""
    runs = ", ".join(sorted(frame["run_id"].dropna().astype(str).unique()))
    return [
        f"**Unfinished run** ({runs}): {len(frame)} rows ({status_counts(frame)}), {backends} backends, "
        f"read from `{JOURNAL}`. The sweep stopped before it wrote `{TABLE}` and `{METADATA}`, so nothing "
        "below comes from the run's metadata (no machine description, peaks or versions). The rows name "
        f"their machine: {', '.join(machines) or '?'}. `convbench run CONFIG --out DIR --resume` on that "
        "machine runs the rest and writes both.",
        "",
    ]


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
    for source in meta.get("merged_from", []):
        lines.append(f"- merged from `{source['dir']}`: run {source['run_id']} on {', '.join(source['machines'])}")
    machines = sorted(frame["machine"].dropna().unique()) if "machine" in frame else []
    backends = frame.loc[ok, "backend"].nunique()
    if (results_dir / TABLE).exists():
        lines += [
            f"Run {meta.get('run_id', 'merged')}: {len(frame)} rows ({status_counts(frame)}), "
            f"{backends} backends. Table: `{TABLE}`; metadata: `{METADATA}`.",
            "",
        ]
        if meta.get("interrupted"):
            lines += [_interrupted_note(meta), ""]
    else:
        lines += _unfinished_lines(frame, backends, machines)
    if len(machines) > 1:
        lines += _machines_sections(frame, meta, machines, results_dir, name)
    else:
        lines += _machine_section(meta) if meta else []
        lines += _analysis_sections(frame, results_dir, name, results_dir)
    failed = frame[~ok]
    if not failed.empty:
        lines += ["## Rows that did not count", ""]
        cols = {"backend": "backend", "image_h": "H", "image_w": "W", "kernel_h": "kh", "kernel_w": "kw"}
        lines += [markdown_table(failed, {**cols, "status": "status", "reason": "reason"}), ""]
    path = results_dir / REPORT
    path.write_text("\n".join(lines))
    return path
