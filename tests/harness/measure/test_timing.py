import pytest

from harness.measure.timing import calibrate_loops, interleaved_samples, summarize


def test_summary_statistics():
    s = summarize([1.0, 2.0, 3.0, 4.0, 5.0], loops=1000)
    assert (s["min_s"], s["median_s"], s["q1_s"], s["q3_s"], s["mean_s"], s["n"]) == (1.0, 3.0, 2.0, 4.0, 3.0, 5)
    assert s["std_s"] == pytest.approx(1.5811, rel=1e-4)
    assert "unstable" in s["warning"]


def test_short_samples_are_flagged():
    assert "shorter than 1 ms" in summarize([1e-5] * 5, loops=10)["warning"]
    assert summarize([1e-3] * 5, loops=10)["warning"] == ""


def test_calibration_reaches_the_minimum_sample_time():
    assert calibrate_loops(1e-4, 0.005) == 50
    assert calibrate_loops(1.0, 0.005) == 1


class _Recorder:
    def __init__(self, name, log):
        self.name, self.log = name, log

    def __call__(self):
        self.log.append(self.name)

    def sync(self):
        pass


def test_rounds_interleave_backends_and_rotate_order():
    log = []
    prepared = {n: _Recorder(n, log) for n in "abc"}
    out = interleaved_samples(prepared, {n: 1 for n in "abc"}, samples=3)
    assert log == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert all(len(v) == 3 for v in out.values())


def test_cold_cache_applies_to_gpu_rows_only():
    from harness.measure.timing import TIMERS, cache_state

    assert cache_state("cuda", "cold") == "cold" and cache_state("cuda", "warm") == "warm"
    assert cache_state("cpu", "cold") == "warm"  # no L2 flush on the CPU: the row says so
    assert TIMERS[("cuda", "cold")] is not TIMERS[("cuda", "warm")]
