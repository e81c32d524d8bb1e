"""The end-of-sweep summary: per image size, the crossover and the time ratios either side."""

from __future__ import annotations

import math

import pandas as pd
from rich.table import Table

from ..analyse.crossovers import crossovers
from ..analyse.layer_models import is_layer, layer_rows, layer_winners, win_counts
from ..schema import KIND

_CASE = [*KIND, "dist"]


def _fmt(value: float, spec: str = ".2f") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def summary_tables(frame: pd.DataFrame) -> list[Table]:
    """The layer set's winners (if any layers), then one table per (op, mode, dtype, threads, dist) of single images.

    A single-image table has a row per image size with its crossover.
    """
    layers = layer_rows(frame)
    out = [_layer_table(layers)] if not layers.empty else []
    single = frame[~is_layer(frame)]
    if not (single["status"] == "ok").any():
        return out
    table = crossovers(single)
    for key, part in table.groupby(_CASE, sort=True):
        named = dict(zip(_CASE, key))
        t = Table(
            title=f"crossover: {named['op']} {named['mode']} {named['dtype']}, {named['threads']} threads, "
            f"{named['dist']} inputs",
            caption="n*: smallest kernel size where FFT is faster; ratio: FFT time / direct time "
            "at the kernel sizes just below and at n*",
            title_justify="left",
            caption_justify="left",
        )
        for column in ("image", "n*", "n* interp.", "ratio below", "ratio at n*", "fft vs direct"):
            t.add_column(column, no_wrap=column != "fft vs direct")
        for r in part.to_dict("records"):
            pair = f"{r['fft_backend']} vs {r['direct_backend']}" if r["fft_backend"] else ""
            t.add_row(
                f"{r['image_h']}x{r['image_w']}",
                _fmt(r["crossover_n"], ".0f"),
                _fmt(r["crossover_interp"], ".1f"),
                _fmt(r["ratio_below"]),
                _fmt(r["ratio_above"]),
                pair if r["bracketed"] else (r["note"] or pair),
            )
        out.append(t)
    return out


def _layer_table(layers: pd.DataFrame) -> Table:
    """How many layer cases each backend wins per pass, and by how much (the runner-up's time over its own)."""
    t = Table(
        title="CNN layers: the fastest backend per layer and batch",
        caption="margin: the runner-up's time over the winner's; the layer plots and report have each layer",
        title_justify="left",
        caption_justify="left",
    )
    for column in ("pass", "fastest", "cases", "median margin", "margins"):
        t.add_column(column)
    for r in win_counts(layer_winners(layers)).to_dict("records"):
        margins = f"{_fmt(r['min_margin'])}-{_fmt(r['max_margin'])}"
        t.add_row(r["pass"], r["winner"], str(r["cases"]), _fmt(r["median_margin"]), margins)
    return t


def status_counts(frame: pd.DataFrame) -> str:
    """'40 ok, 2 skipped' style line of row statuses."""
    counts = frame["status"].value_counts()
    return ", ".join(f"{n} {status}" for status, n in counts.items())
