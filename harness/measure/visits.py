"""Pooling a row's visits: the sweep visits each case ``timing.visits`` times; the table holds one row per backend.

A visit is one of the sweep's times at a case (``timing.visits`` in a config):
prepare, verify, interleaved samples, as for any case. The visits of a case
are spread over the run, so a machine that drifts over minutes (a shared
VM's neighbours, an idle core's wake-up latency) moves some visits and not
others. Pooled, the row's spread and its median's interval show that drift
instead of hiding it between runs, where ``compare`` would call it a change.

The journal keeps every visit as its own row; nothing here changes it.
"""

from __future__ import annotations

import numpy as np

from ..schema import VISIT, row_key
from .timing import TIMING_WARNINGS, interval_warning, median_interval, summarize

# Machine-noise columns: a pooled row keeps the noisiest visit's.
_NOISE = ("other_cpu_frac", "steal_frac")


def pool_visits(rows: list[dict], ci_target: float = 0.0) -> list[dict]:
    """One row per (case, backend) from journal rows that may hold several visits of each.

    Rows of one visit pass through with ``visits = 1``. For several visits:

    - all ``ok``: the samples are pooled in visit order (``samples_s``, the
      statistics and the timing warnings recomputed from them); ``visit_medians_s``
      holds each visit's median, and ``ci_low_s``/``ci_high_s`` are the median's
      interval over the visit medians, which covers the drift between visits;
      setup costs, the first call and the errors are the first visit's (what a
      user pays once, on the same inputs); the noise fractions are the worst
      visit's; other warnings (a machine not quiet, a throttled GPU) are kept,
      each naming its visit;
    - otherwise the first visit that is not ``ok`` stands for the row, its
      reason naming the visit; the other visits stay in the journal.

    The row order is that of each key's first visit.
    """
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(row_key(row)[:2], []).append(row)
    return [_pool(sorted(group, key=lambda r: int(r.get(VISIT, 0))), ci_target) for group in groups.values()]


def _pool(group: list[dict], ci_target: float) -> dict:
    first = {k: v for k, v in group[0].items() if k != VISIT}
    first["visits"] = len(group)
    if len(group) == 1:
        if first.get("status") == "ok" and "median_s" in first:
            first["visit_medians_s"] = [float(first["median_s"])]
        return first
    failed = [r for r in group if r.get("status") != "ok"]
    if failed:
        row = {k: v for k, v in failed[0].items() if k != VISIT}
        where = f"visit {int(failed[0].get(VISIT, 0)) + 1} of {len(group)}"
        row.update(visits=len(group), reason="; ".join(r for r in (where, row.get("reason")) if r))
        return row
    samples = [float(v) for r in group for v in r["samples_s"]]
    medians = [float(np.median(r["samples_s"])) for r in group]
    loops = min(int(r["loops"]) for r in group)
    stats = summarize(samples, loops)  # the interval is the visit medians', below, and so is its warning
    low, high = median_interval(medians)
    stats.update(ci_low_s=low, ci_high_s=high)
    median = stats["median_s"]
    if ci_target and median > 0 and (high - low) / (2 * median) > ci_target:
        drift = interval_warning(low, high, median, ci_target, f"{len(group)} visits")
        stats["warning"] = "; ".join(w for w in (stats["warning"], drift) if w)
    kept = [
        f"visit {int(r.get(VISIT, 0)) + 1}: {part}"
        for r in group
        for part in (r.get("warning") or "").split("; ")
        if part and not part.startswith(TIMING_WARNINGS)
    ]
    stats["warning"] = "; ".join(w for w in (stats["warning"], *kept) if w)
    noise = {c: max(float(r[c]) for r in group) for c in _NOISE if all(r.get(c) is not None for r in group)}
    return {**first, **stats, **noise, "loops": loops, "samples_s": samples, "visit_medians_s": medians}
