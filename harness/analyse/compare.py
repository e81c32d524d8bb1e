"""Compare two runs case by case: speedup, significance on the stored samples, geometric mean.

For machines, versions, or a new backend against an old one. Cases are matched
on their identity (backend and the case columns of :mod:`harness.schema`,
input seed included); with a
backend pair, backend A of the first run is matched against backend B of the
second (which may be the same run).

Significance: when both runs measured the case in two or more visits
(``timing.visits``), a two-sided Welch t-test on the logarithms of the visit
medians (``visit_medians_s``). The samples of one visit share the machine's
state at that moment, so they are not independent draws; the visits are, as
far as a run can make them, and a drift of the machine over minutes shows in
their spread. Otherwise, a two-sided Mann-Whitney U test on the raw per-call
samples each row stores (``samples_s``): exact when the samples have no ties
and are few, the normal approximation with tie correction otherwise; it
assumes the machine held still between the runs. A run compares many cases at once, so the verdicts use
Benjamini-Hochberg q-values (the false discovery rate), not raw p-values:
among the cases called faster or slower, at most ``alpha`` are expected false.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..machine.state import OTHER_CPU_LIMIT, STEAL_LIMIT
from ..schema import CASE_COLUMNS

KEYS = ["backend", *CASE_COLUMNS]
ALPHA = 0.05
_EXACT_LIMIT = 400  # n_a * n_b up to which the exact null distribution is enumerated


def _ranks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mid-ranks (1-based, ties averaged) and the sizes of the tie groups."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    ties = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        ties.append(j - i + 1)
        i = j + 1
    return ranks, np.asarray(ties)


def mann_whitney(a, b) -> tuple[float, float]:
    """Two-sided Mann-Whitney U test of two samples.

    Returns
    -------
    (u, p) : tuple of float
        ``u`` is the statistic of the first sample (pairs with ``a > b``, ties
        counting one half); ``p`` the two-sided p-value.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    m, n = len(a), len(b)
    if m == 0 or n == 0:
        return float("nan"), float("nan")
    ranks, ties = _ranks(np.concatenate([a, b]))
    u = float(ranks[:m].sum() - m * (m + 1) / 2)
    if (ties == 1).all() and m * n <= _EXACT_LIMIT:
        counts = _u_distribution(m, n)
        total = counts.sum()
        k = int(round(u))
        p = 2 * min(counts[: k + 1].sum(), counts[k:].sum()) / total
        return u, float(min(1.0, p))
    mean = m * n / 2
    total = m + n
    var = m * n / 12 * ((total + 1) - np.sum(ties**3 - ties) / (total * (total - 1)))
    if var <= 0:
        return u, 1.0
    z = (abs(u - mean) - 0.5) / math.sqrt(var)
    return u, float(min(1.0, math.erfc(max(z, 0.0) / math.sqrt(2))))


def welch_t_test(a, b) -> tuple[float, float]:
    """Two-sided Welch t-test of two samples (unequal variances).

    Returns
    -------
    (t, p) : tuple of float
        ``t`` is positive when ``a``'s mean is the larger; ``p`` the two-sided
        p-value (NaN with fewer than two values on a side).
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    m, n = len(a), len(b)
    if m < 2 or n < 2:
        return float("nan"), float("nan")
    va, vb = a.var(ddof=1) / m, b.var(ddof=1) / n
    diff = float(a.mean() - b.mean())
    if va + vb == 0:
        return (math.copysign(math.inf, diff), 0.0) if diff else (0.0, 1.0)
    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (m - 1) + vb**2 / (n - 1))
    return float(t), _incomplete_beta(df / 2, 0.5, df / (df + t * t))


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), by its continued fraction (modified Lentz)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast below this point; use the symmetry above it
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for k in range(1, 300):
        for numerator in (
            k * (b - k) * x / ((a + 2 * k - 1) * (a + 2 * k)),
            -(a + k) * (a + b + k) * x / ((a + 2 * k) * (a + 2 * k + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-14:
            break
    return math.exp(log_front) * f / a


def _u_distribution(m: int, n: int) -> np.ndarray:
    """Number of orderings giving each value of U for sample sizes (m, n), with no ties.

    The classic recursion: the largest of the m + n values belongs to the first
    sample (it then beats all n of the second: U - n on the rest) or to the second.
    """
    # dist[j] holds the counts for sizes (i, j) as i grows.
    dist = [np.array([1.0]) for _ in range(n + 1)]  # i = 0: U = 0 in one way
    for i in range(1, m + 1):
        new = [np.array([1.0])]  # j = 0
        for j in range(1, n + 1):
            counts = np.zeros(i * j + 1)
            first = dist[j]  # largest from sample 1: U = n_j + U(i-1, j)
            counts[j : j + len(first)] += first
            second = new[j - 1]  # largest from sample 2: U(i, j-1)
            counts[: len(second)] += second
            new.append(counts)
        dist = new
    return dist[n]


@dataclass
class Comparison:
    """Per-case table and summary of :func:`compare`."""

    cases: pd.DataFrame
    only_a: int
    only_b: int
    label_a: str
    label_b: str

    def summary(self) -> dict:
        """Geometric-mean speedup (with a bootstrap 95 % interval over cases) and verdict counts."""
        speedup = self.cases["speedup"].to_numpy(float)
        speedup = speedup[np.isfinite(speedup) & (speedup > 0)]
        out = {"cases": int(len(self.cases)), "only_a": self.only_a, "only_b": self.only_b}
        out.update(self.cases["verdict"].value_counts().to_dict() if len(self.cases) else {})
        if speedup.size:
            logs = np.log(speedup)
            rng = np.random.default_rng(0)
            boot = rng.choice(logs, size=(2000, logs.size), replace=True).mean(axis=1)
            out.update(
                geomean_speedup=float(np.exp(logs.mean())),
                geomean_low=float(np.exp(np.quantile(boot, 0.025))),
                geomean_high=float(np.exp(np.quantile(boot, 0.975))),
            )
        return out


def fdr_q_values(p_values) -> np.ndarray:
    """Benjamini-Hochberg q-values of ``p_values`` (NaN stays NaN and does not count as a test)."""
    p = np.asarray(p_values, dtype=float)
    q = np.full_like(p, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    if tested.size:
        order = tested[np.argsort(p[tested], kind="stable")]
        ranked = p[order] * tested.size / np.arange(1, tested.size + 1)
        q[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return q


def regressions(cases: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Cases where B is significantly slower than A (by the verdict) and by more than ``threshold`` (0.05: 5 %)."""
    slower = (cases["verdict"] == "slower") & (cases["median_b"] > cases["median_a"] * (1.0 + threshold))
    return cases[slower]


# What must agree for two runs' times to be comparable: the machine, and the libraries that do the work.
_MACHINE_KEYS = ("cpu_model", "usable_cores", "arch")


def environment_differences(meta_a: dict, meta_b: dict) -> dict[str, list[str]]:
    """``{"machine": [...], "versions": [...]}``: how two runs' machines and library versions differ."""
    out: dict[str, list[str]] = {"machine": [], "versions": []}
    machine_a, machine_b = meta_a.get("machine") or {}, meta_b.get("machine") or {}
    for key in _MACHINE_KEYS:
        if key in machine_a and key in machine_b and machine_a[key] != machine_b[key]:
            out["machine"].append(f"{key}: {machine_a[key]} vs {machine_b[key]}")
    gpu_a, gpu_b = (meta_a.get("gpu") or {}).get("name"), (meta_b.get("gpu") or {}).get("name")
    if gpu_a and gpu_b and gpu_a != gpu_b:
        out["machine"].append(f"GPU: {gpu_a} vs {gpu_b}")
    versions_a, versions_b = meta_a.get("versions") or {}, meta_b.get("versions") or {}
    for name in sorted(set(versions_a) & set(versions_b)):
        if versions_a[name] != versions_b[name]:
            out["versions"].append(f"{name} {versions_a[name]} vs {versions_b[name]}")
    return out


def _samples(values) -> np.ndarray:
    if values is None or (isinstance(values, float) and math.isnan(values)):
        return np.array([])
    return np.asarray(values, dtype=float)


def _not_quiet(part: pd.DataFrame) -> bool:
    """Whether any of these rows was sampled while others used the cores or the hypervisor stole them."""
    noisy = False
    for column, limit in (("other_cpu_frac", OTHER_CPU_LIMIT), ("steal_frac", STEAL_LIMIT)):
        if column in part:  # tables from before the noise columns have neither
            noisy |= bool((pd.to_numeric(part[column], errors="coerce") > limit).any())
    return noisy


def _per_case(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    ok = frame[frame["status"] == "ok"]
    records = []
    for key, part in ok.groupby(keys, sort=True):
        samples = np.concatenate([_samples(s) for s in part["samples_s"]]) if "samples_s" in part else np.array([])
        medians = np.concatenate([_samples(s) for s in part["visit_medians_s"]]) if "visit_medians_s" in part else []
        records.append(
            dict(
                zip(keys, key if isinstance(key, tuple) else (key,)),
                backend=part["backend"].iloc[0],
                median_s=float(np.median(samples)) if samples.size else float(part["median_s"].median()),
                samples=samples,
                visit_medians=np.asarray(medians, dtype=float),
                quiet=not _not_quiet(part),
            )
        )
    return pd.DataFrame.from_records(records)


def compare(
    frame_a: pd.DataFrame,
    frame_b: pd.DataFrame,
    *,
    backend_a: str | None = None,
    backend_b: str | None = None,
    ignore: tuple[str, ...] = (),
    alpha: float = ALPHA,
    labels: tuple[str, str] = ("A", "B"),
) -> Comparison:
    """Match the successful rows of two runs and compare their times case by case.

    Parameters
    ----------
    frame_a, frame_b : pandas.DataFrame
        Results tables (``harness.load_results``).
    backend_a, backend_b : str, optional
        Compare this backend of run A with that one of run B (both or neither).
    ignore : tuple of str
        Identity columns not to match on, e.g. ``("threads",)`` across machines.
    alpha : float
        Significance level of the verdicts.

    Returns
    -------
    Comparison
        ``cases`` has per matched case ``median_a``, ``median_b``, ``speedup``
        (``median_a / median_b``: above 1 means B is faster), ``test``
        (``visits``: Welch on the visit medians; ``samples``: Mann-Whitney on
        the samples; empty when untested), ``p_value``,
        ``q_value`` (Benjamini-Hochberg over the matched cases) and ``verdict``
        ("faster", "slower": B against A, q-value at most ``alpha``; "same";
        "no samples"; or "not quiet": a side was sampled while other processes
        or the hypervisor took the cores, so it is not tested).
    """
    if (backend_a is None) != (backend_b is None):
        raise ValueError("give both backends of the pair, or neither")
    keys = [k for k in KEYS if k not in ignore]
    if backend_a is not None:
        frame_a = frame_a[frame_a["backend"] == backend_a]
        frame_b = frame_b[frame_b["backend"] == backend_b]
        keys = [k for k in keys if k != "backend"]
    a, b = _per_case(frame_a, keys), _per_case(frame_b, keys)
    if a.empty or b.empty:
        cases = pd.DataFrame(
            columns=keys
            + ["backend_a", "backend_b", "median_a", "median_b", "speedup", "test", "p_value", "q_value"]
        )
        return Comparison(cases.assign(verdict=[]), len(a), len(b), *labels)
    merged = a.merge(b, on=keys, how="outer", suffixes=("_a", "_b"), indicator=True)
    both = merged[merged["_merge"] == "both"].copy()
    if "backend_a" not in both:
        both["backend_a"] = both["backend_b"] = both["backend"]
    quiet = (both["quiet_a"] & both["quiet_b"]).to_numpy(bool)
    tests = [
        ("" if not calm else "visits" if len(pa) >= 2 and len(pb) >= 2 else "samples" if len(sa) >= 2 and len(sb) >= 2
         else "")
        for sa, sb, pa, pb, calm in zip(
            both["samples_a"], both["samples_b"], both["visit_medians_a"], both["visit_medians_b"], quiet
        )
    ]  # fmt: skip
    p_values = [
        welch_t_test(np.log(pa), np.log(pb))[1] if test == "visits"
        else mann_whitney(sa, sb)[1] if test == "samples"
        else float("nan")
        for sa, sb, pa, pb, test in zip(
            both["samples_a"], both["samples_b"], both["visit_medians_a"], both["visit_medians_b"], tests
        )
    ]  # fmt: skip
    q_values = fdr_q_values(p_values)
    verdicts = [
        "not quiet" if not calm
        else "no samples" if not np.isfinite(q)
        else "same" if q > alpha
        else "faster" if mb < ma
        else "slower"
        for q, ma, mb, calm in zip(q_values, both["median_s_a"], both["median_s_b"], quiet)
    ]  # fmt: skip
    both = both.rename(columns={"median_s_a": "median_a", "median_s_b": "median_b"})
    both["speedup"] = both["median_a"] / both["median_b"]
    both["test"] = tests
    both["p_value"] = p_values
    both["q_value"] = q_values
    both["verdict"] = verdicts
    columns = [k for k in keys if k != "backend"] + ["backend_a", "backend_b", "median_a", "median_b", "speedup"]
    cases = both[columns + ["test", "p_value", "q_value", "verdict"]].reset_index(drop=True)
    only_a = int((merged["_merge"] == "left_only").sum())
    only_b = int((merged["_merge"] == "right_only").sum())
    return Comparison(cases, only_a, only_b, *labels)
