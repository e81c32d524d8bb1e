import json

import numpy as np
import pandas as pd
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
    assert "Mann-Whitney U on the samples on 4" in out
    assert "4 case(s) tested sample by sample" in out and "timing.visits >= 2" in out
    assert csv.read_text().count("\n") == 5
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--backends", "numba-cpu", "opencv"]) == 2
    assert "has no rows of backend 'opencv'" in capsys.readouterr().err


def test_q_values_are_benjamini_hochberg():
    from harness.analyse.compare import fdr_q_values

    p = [0.01, 0.04, 0.03, 0.2, float("nan")]
    q = fdr_q_values(p)
    # Sorted p .01 .03 .04 .2 (m = 4) give p * m / rank = .04 .06 .0533 .2; q is the running
    # minimum from the largest rank down: .04 .0533 .0533 .2, put back in the input's order.
    assert q[:4] == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.2]) and np.isnan(q[4])
    scipy_stats = pytest.importorskip("scipy.stats")
    if hasattr(scipy_stats, "false_discovery_control"):
        assert q[:4] == pytest.approx(scipy_stats.false_discovery_control(p[:4]))


def test_runs_with_different_seeds_do_not_merge():
    a = synthetic_run([64], [3, 7])
    b = a.assign(seed=1)
    assert compare(a, b).cases.empty  # was: matched, as if the same inputs had been timed


def _two_runs(tmp_path, factor, machine_b="Test CPU", numpy_b="2.0"):
    a, b = synthetic_run([64], [3, 7], noise=0.02), synthetic_run([64], [3, 7], noise=0.02, seed=1)
    b["samples_s"] = [list(np.asarray(s) * factor) for s in b["samples_s"]]
    b["median_s"] *= factor
    for name, frame, cpu, numpy in (("a", a, "Test CPU", "2.0"), ("b", b, machine_b, numpy_b)):
        (tmp_path / name).mkdir()
        frame.to_parquet(tmp_path / name / "results.parquet")
        meta = {"schema_version": 2, "machine": {"cpu_model": cpu, "usable_cores": 2}, "versions": {"numpy": numpy}}
        (tmp_path / name / "metadata.json").write_text(json.dumps(meta))
    return str(tmp_path / "a"), str(tmp_path / "b")


def test_fail_slower_exits_1_on_a_significant_regression_only(tmp_path, capsys):
    a, b = _two_runs(tmp_path, factor=1.5)
    assert main(["compare", a, b, "--fail-slower", "5%"]) == 1
    assert "4 case(s) of B significantly slower than A by more than 5%" in " ".join(capsys.readouterr().out.split())
    assert main(["compare", a, b, "--fail-slower", "60%"]) == 0  # slower, but by less than the threshold
    assert main(["compare", b, a, "--fail-slower", "5%"]) == 0  # faster is no regression


def test_json_output_for_scripts(tmp_path, capsys):
    a, b = _two_runs(tmp_path, factor=1.5)
    capsys.readouterr()
    assert main(["compare", a, b, "--json", "--fail-slower", "0.05"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["regressions"] == 4 and len(report["cases"]) == 4
    assert {c["verdict"] for c in report["cases"]} == {"slower"} and report["summary"]["cases"] == 4
    assert main(["backends", "--json"]) == 0
    listed = {b["name"]: b for b in json.loads(capsys.readouterr().out)}
    assert listed["numba-cpu"]["available"] is True and listed["fftw"]["options"] == {"planner": "FFTW_MEASURE"}


def test_runs_from_different_machines_are_refused_and_versions_warned(tmp_path, capsys):
    a, b = _two_runs(tmp_path, factor=1.0, machine_b="Other CPU", numpy_b="2.1")
    assert main(["compare", a, b]) == 2
    assert "come from different machines (cpu_model: Test CPU vs Other CPU)" in capsys.readouterr().err
    assert main(["compare", a, b, "--across-machines"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "different machines" in out and "different library versions: numpy 2.0 vs 2.1" in out


def test_cases_sampled_on_a_busy_machine_are_not_tested():
    a = synthetic_run([64], [3, 7], noise=0.02)
    b = synthetic_run([64], [3, 7], noise=0.02, seed=1)
    b["median_s"] *= 3
    b["samples_s"] = [list(np.asarray(s) * 3) for s in b["samples_s"]]
    b["other_cpu_frac"] = [0.5, 0.0, 0.5, 0.0]  # other processes held half the cores during two cases
    verdicts = compare(a, b).cases["verdict"].tolist()
    assert verdicts.count("not quiet") == 2 and verdicts.count("slower") == 2


def test_welch_t_test_matches_scipy():
    from scipy.stats import ttest_ind

    from harness.analyse.compare import welch_t_test

    rng = np.random.default_rng(3)
    for m, n in [(2, 2), (3, 3), (4, 6), (8, 5), (30, 30)]:
        a, b = rng.normal(0, 1, m), rng.normal(0.7, 2, n)
        ref = ttest_ind(a, b, equal_var=False)
        assert welch_t_test(a, b) == pytest.approx((ref.statistic, ref.pvalue), rel=1e-9)
    assert welch_t_test([1.0, 1.0], [2.0, 2.0]) == (-np.inf, 0.0)
    assert np.isnan(welch_t_test([1.0], [1.0, 2.0])[1])


def _drifting_run(seed, factor=1.0, visits=4):
    """A run whose visits drift (8 % between visits) while each visit's samples are tight (0.5 %)."""
    from harness.measure.visits import pool_visits

    rng = np.random.default_rng(seed)
    rows = []
    for visit in range(visits):
        for row in synthetic_run([64, 128, 256, 512], [3, 7, 15]).to_dict("records"):
            level = factor * np.exp(0.08 * rng.standard_normal())
            samples = row["median_s"] * level * np.exp(0.005 * rng.standard_normal(7))
            rows.append({**row, "visit": visit, "samples_s": samples.tolist(), "loops": 1})
    return pd.DataFrame(pool_visits(rows))


def test_drift_between_passes_is_not_called_a_difference_but_a_regression_is():
    a, b = _drifting_run(0), _drifting_run(1)
    result = compare(a, b)
    assert set(result.cases["test"]) == {"visits"}
    assert (result.cases["verdict"] == "same").all()
    # The bug this fixes: one visit per run, tested sample by sample, reads the drift as a change nearly
    # everywhere; pooling visits without testing at the visit level still calls a third of the cases.
    one_pass = compare(_drifting_run(0, visits=1), _drifting_run(1, visits=1))
    assert (one_pass.cases["verdict"] != "same").mean() > 0.8
    pooled_only = compare(a.drop(columns="visit_medians_s"), b.drop(columns="visit_medians_s"))
    assert set(pooled_only.cases["test"]) == {"samples"}
    assert (pooled_only.cases["verdict"] != "same").mean() > 0.2
    slower = compare(a, _drifting_run(1, factor=1.5))
    assert (slower.cases["verdict"] == "slower").all()


def test_a_run_in_one_pass_against_one_in_passes_falls_back_to_the_samples():
    a, b = _drifting_run(0, visits=1), _drifting_run(1)
    assert set(compare(a, b).cases["test"]) == {"samples"}
