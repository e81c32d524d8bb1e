"""The end-of-sweep summary: per image size, the crossover and the time ratios either side."""

from __future__ import annotations

import math

import pandas as pd
from rich.table import Table

from .model import crossovers


def _fmt(value: float, spec: str = ".2f") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def summary_table(frame: pd.DataFrame) -> Table:
    """A rich table of crossovers: one row per image size and group."""
    table = Table(title="Crossover: smallest kernel size n where FFT beats direct", title_justify="left")
    for column in ("case", "image", "n", "interp.", "fft/direct below", "fft/direct above", "fft vs direct"):
        table.add_column(column, no_wrap=column != "fft vs direct")
    for r in crossovers(frame).to_dict("records"):
        case = f"{r['op']} {r['mode']} {r['dtype']} {r['threads']}t"
        image = f"{r['image_h']}x{r['image_w']}"
        pair = f"{r['fft_backend']} vs {r['direct_backend']}" if r["fft_backend"] else r["note"]
        table.add_row(
            case,
            image,
            _fmt(r["crossover_n"], ".0f"),
            _fmt(r["crossover_interp"], ".1f"),
            _fmt(r["ratio_below"]),
            _fmt(r["ratio_above"]),
            pair,
        )
    return table


def status_counts(frame: pd.DataFrame) -> str:
    """'40 ok, 2 skipped' style line of row statuses."""
    counts = frame["status"].value_counts()
    return ", ".join(f"{n} {status}" for status, n in counts.items())
