"""When one-time costs decide: the number of calls after which a faster-per-call backend pays back its setup.

Per case and backend pair, if A is faster per call but pays more once (JIT
compile, FFT planning, first-call excess), A wins from
``(one-time A - one-time B) / (per call B - per call A)`` calls on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..schema import CASE_COLUMNS
from .derived import one_time_seconds

BREAK_EVEN_COLUMNS = ["faster", "cheaper_once", "cases", "median_calls", "min_calls", "max_calls"]


def break_even_calls(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (faster per call, cheaper once) backend pair: the calls to break even, over the cases where they trade."""
    ok = frame[frame["status"] == "ok"].copy()
    if ok.empty:
        return pd.DataFrame(columns=BREAK_EVEN_COLUMNS)
    ok["one_time_s"] = one_time_seconds(ok)
    found: dict[tuple[str, str], list[float]] = {}
    for _, case in ok.groupby(list(CASE_COLUMNS), sort=False):
        rows = case.to_dict("records")
        for a in rows:
            for b in rows:
                if a["median_s"] < b["median_s"] and a["one_time_s"] > b["one_time_s"]:
                    calls = (a["one_time_s"] - b["one_time_s"]) / (b["median_s"] - a["median_s"])
                    found.setdefault((a["backend"], b["backend"]), []).append(calls)
    records = [
        dict(
            faster=a,
            cheaper_once=b,
            cases=len(calls),
            median_calls=float(np.median(calls)),
            min_calls=float(np.min(calls)),
            max_calls=float(np.max(calls)),
        )
        for (a, b), calls in sorted(found.items())
    ]
    return pd.DataFrame.from_records(records, columns=BREAK_EVEN_COLUMNS)
