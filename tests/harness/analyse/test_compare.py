import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import mannwhitneyu

from harness.analyse.compare import compare, mann_whitney
from harness.cli import main
from tests.harness.synthetic import synthetic_run

samples = st.lists(st.floats(0.5, 2.0, allow_nan=False), min_size=2, max_size=25)


@settings(max_examples=60, deadline=None)
@given(a=samples, b=samples, rounding=st.sampled_from([None, 1]))
def test_mann_whitney_matches_scipy(a, b, rounding):
    if rounding is not None:  # ties: the normal approximation with tie correction
        a, b = list(np.round(a, rounding)), list(np.round(b, rounding))
    if len(set(a + b)) == 1:
        return  # scipy and we agree there is nothing to test; p is 1 for us
    u, p = mann_whitney(a, b)
    # Name the method ours used: scipy's "auto" changed between versions (newer ones go
    # asymptotic above 8 samples), and the test must not depend on the installed scipy.
    exact = len(set(a + b)) == len(a + b) and len(a) * len(b) <= 400
    ref = mannwhitneyu(a, b, alternative="two-sided", method="exact" if exact else "asymptotic")
    assert u == pytest.approx(ref.statistic)
    assert p == pytest.approx(ref.pvalue, rel=1e-6, abs=1e-12)


def test_exact_p_of_two_separated_samples_of_five():
    # Only 2 of the C(10, 5) = 252 orderings are as extreme: p = 2 * 1/252.
    assert mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == (0.0, pytest.approx(2 / 252))


def test_b_twice_as_fast_is_significant_everywhere():
    a = synthetic_run([64, 128], [3, 7], noise=0.02, seed=0)
    b = synthetic_run([64, 128], [3, 7], noise=0.02, seed=1)
    b["median_s"] /= 2
    b["samples_s"] = [list(np.asarray(s) / 2) for s in b["samples_s"]]
    result = compare(a, b)
    assert len(result.cases) == 8 and (result.cases["verdict"] == "faster").all()
    summary = result.summary()
    assert summary["geomean_speedup"] == pytest.approx(2.0, rel=0.05)
    assert summary["geomean_low"] <= summary["geomean_speedup"] <= summary["geomean_high"]
    assert compare(b, a).cases["verdict"].eq("slower").all()


def test_same_distribution_is_mostly_not_significant():
    a = synthetic_run([64, 128, 256], [3, 5, 7, 9], noise=0.05, seed=0)
    b = synthetic_run([64, 128, 256], [3, 5, 7, 9], noise=0.05, seed=1)
    result = compare(a, b)
    assert (result.cases["verdict"] == "same").mean() >= 0.8
    assert result.summary()["geomean_speedup"] == pytest.approx(1.0, abs=0.05)


def test_backend_pair_unmatched_cases_and_ignored_threads():
    a = synthetic_run([64, 128], [3, 7])
    b = synthetic_run([64], [3, 7], threads=4)
    assert compare(a, b).cases.empty
    result = compare(a, b, ignore=("threads",))
    assert len(result.cases) == 4 and result.only_a == 4 and result.only_b == 0
    pair = compare(a, a, backend_a="numba-cpu", backend_b="fftw")
    assert len(pair.cases) == 4
    assert set(pair.cases["backend_a"]) == {"numba-cpu"} and set(pair.cases["backend_b"]) == {"fftw"}
    with pytest.raises(ValueError, match="both backends"):
        compare(a, b, backend_a="fftw")


def test_rows_without_samples_get_no_verdict():
    a = synthetic_run([64], [3])
    b = a.copy()
    b["samples_s"] = None
    assert set(compare(a, b).cases["verdict"]) == {"no samples"}


def test_cli_compare(tmp_path, capsys):
    a, b = synthetic_run([64], [3, 7], noise=0.02), synthetic_run([64], [3, 7], noise=0.02, seed=1)
    b["samples_s"] = [list(np.asarray(s) / 3) for s in b["samples_s"]]
    b["median_s"] /= 3
    for name, frame in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        frame.to_parquet(tmp_path / name / "results.parquet")
    csv = tmp_path / "speedups.csv"
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--csv", str(csv)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # undo rich's wrapping
    assert "4 matched cases (4 faster" in out and "geometric-mean speedup of B over A: 2.9" in out
    assert csv.read_text().count("\n") == 5
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--backends", "numba-cpu", "opencv"]) == 2
    assert "has no rows of backend 'opencv'" in capsys.readouterr().err
