"""The end-of-sweep summary: per image size, the crossover and the time ratios either side."""

from __future__ import annotations

import math

import pandas as pd
from rich.table import Table

from ..analyse.crossovers import crossovers
from ..schema import KIND, LAYER_DEFAULTS

_CASE = [*KIND, "dist"]


def _fmt(value: float, spec: str = ".2f") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def summary_tables(frame: pd.DataFrame) -> list[Table]:
    """One rich table per (op, mode, dtype, threads, layer, dist): a row per image size with its crossover."""
    table = crossovers(frame)
    out = []
    for key, part in table.groupby(_CASE, sort=True):
        named = dict(zip(_CASE, key))
        layer = "" if all(named[c] == v for c, v in LAYER_DEFAULTS.items()) else (
            f", layer B={named['batch']} C={named['in_channels']} K={named['out_channels']} {named['pass']}"
        )
        t = Table(
            title=f"crossover: {named['op']} {named['mode']} {named['dtype']}, {named['threads']} threads, "
            f"{named['dist']} inputs{layer}",
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


def status_counts(frame: pd.DataFrame) -> str:
    """'40 ok, 2 skipped' style line of row statuses."""
    counts = frame["status"].value_counts()
    return ", ".join(f"{n} {status}" for status, n in counts.items())
