import pandas as pd
import pytest

from harness.analyse.chooser import MEASURE_WITHIN
from harness.analyse.regret import (
    method_backends,
    opencv_method,
    regret_summary,
    scipy_measured_method,
    scipy_static_method,
    validate_choices,
)
from kernels import Problem
from tests.harness.synthetic import LAWS, direct_law, fft_law, synthetic_run


def test_opencv_switches_to_its_dft_at_a_fixed_kernel_area():
    assert opencv_method(Problem("corr", "same", (512, 512), (11, 11), "float32")) == "direct"
    assert opencv_method(Problem("corr", "same", (512, 512), (12, 12), "float32")) == "fft"
    assert opencv_method(Problem("corr", "same", (512, 512), (7, 8), "float64")) == "fft"


def test_scipy_static_is_scipys_own_answer():
    signal = pytest.importorskip("scipy.signal")
    problem = Problem("corr", "same", (64, 64), (3, 3), "float32")
    import numpy as np

    want = signal.choose_conv_method(np.zeros((64, 64), "float32"), np.zeros((3, 3), "float32"), mode="same")
    assert scipy_static_method(problem) == want


def test_method_backends_are_the_calibrations_most_frequent_winners():
    laws = {**LAWS, "slow-direct": ("direct", lambda p: 2 * direct_law(p))}
    assert method_backends(synthetic_run([64, 256], [3, 31], laws=laws)) == {"direct": "numba-cpu", "fft": "fftw"}


def test_close_predictions_are_measured_and_the_measuring_is_charged():
    # Two direct backends 5 % apart everywhere: always too close to call, so convbench measures.
    laws = {"numba-cpu": ("direct", direct_law), "twin": ("direct", lambda p: 1.05 * direct_law(p))}
    calibration = synthetic_run([64, 256], [3, 7, 15], laws=laws)
    validation = synthetic_run([128], [5, 11], laws=laws, seed=1)
    scores = validate_choices(calibration, validation)
    assert scores["measured"].all() and (scores["convbench: pick"] == "numba-cpu").all()
    assert (scores["convbench: regret"] == 1.0).all()  # per call, measuring is amortised away
    charged = validate_choices(calibration, validation, calls=10)
    assert (charged["convbench: regret"] > 1.0).all()  # 8 calls of each plus setup, over 10 calls
    assert MEASURE_WITHIN >= 0.05


def test_calls_count_one_time_costs_in_the_choice():
    # fftw: faster per call at 41x41 but with a large one-time cost.
    frame = synthetic_run([64, 128, 256, 512], [3, 9, 21, 41])
    frame["plan_s"] = frame["method"].map({"fft": 0.5, "direct": 0.0})
    from harness.analyse.chooser import choose

    per_call = choose((300, 300), (41, 41), results=frame)
    few_calls = choose((300, 300), (41, 41), results=frame, calls=3)
    assert per_call["backend"].iloc[0] == "fftw" and few_calls["backend"].iloc[0] == "numba-cpu"
    row = few_calls.set_index("backend").loc["fftw"]
    assert row["total_s"] == pytest.approx(3 * row["predicted_s"] + 0.5)
    problem = Problem("corr", "same", (300, 300), (41, 41), "float32", 2)
    assert row["predicted_s"] == pytest.approx(fft_law(problem), rel=0.05)


def test_summary_per_chooser():
    scores = pd.DataFrame({"convbench: regret": [1.0, 1.0, 1.2], "always FFT: regret": [1.0, 3.0, 1.0]})
    summary = regret_summary(scores).set_index("chooser")
    assert summary.loc["convbench", "max"] == pytest.approx(1.2)
    assert summary.loc["always FFT", "median"] == 1.0
    assert summary.loc["always FFT", "fastest_share"] == pytest.approx(2 / 3)


def test_scipy_measure_times_here_and_its_measuring_is_charged_to_its_pick():
    pytest.importorskip("scipy.signal")
    picked = scipy_measured_method(Problem("corr", "same", (64, 64), (3, 3), "float32"))
    assert picked[0] in ("direct", "fft") and picked[1] > 0
    calibration = synthetic_run([64, 256], [3, 7, 15])
    validation = synthetic_run([96, 192], [5, 11], seed=1)
    per_call = validate_choices(calibration, validation, scipy_measure=True)
    assert set(per_call["scipy measure: pick"]) <= {"numba-cpu", "fftw"}
    assert (per_call["scipy measure: seconds"] > 0).all()
    once = validate_choices(calibration, validation, calls=1, scipy_measure=True)
    # One call: scipy's measuring (real seconds) dwarfs a synthetic call of microseconds.
    assert (once["scipy measure: regret"] > per_call["scipy measure: regret"]).all()
    assert "scipy measure" in set(regret_summary(per_call)["chooser"])
    assert "scipy measure: regret" not in validate_choices(calibration, validation)


def test_measuring_is_paid_once_over_n_calls_not_divided_by_n():
    # N calls cost N * per_call + one-time; measuring is one more one-time cost, so the excess regret
    # falls as 1/N (it fell as 1/N^2 when the measuring was divided by N: a bias in convbench's favour).
    laws = {"numba-cpu": ("direct", direct_law), "twin": ("direct", lambda p: 1.05 * direct_law(p))}
    calibration = synthetic_run([64, 256], [3, 7, 15], laws=laws)
    validation = synthetic_run([128], [5], laws=laws, seed=1)
    one = validate_choices(calibration, validation, calls=1)["convbench: regret"].iloc[0]
    ten = validate_choices(calibration, validation, calls=10)["convbench: regret"].iloc[0]
    assert (one - 1) / (ten - 1) == pytest.approx(10, rel=0.01)
