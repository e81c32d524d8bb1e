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


def test_median_interval_is_two_order_statistics_that_cover_the_median():
    from harness.measure.timing import median_interval, relative_half_width

    assert median_interval([5, 1, 4, 2, 3]) == (1.0, 5.0)  # five samples: their whole range
    samples = list(range(1, 101))
    low, high = median_interval(samples)
    assert (low, high) == (41.0, 60.0)  # ranks 50 -+ 9.8 of 100
    assert relative_half_width([1.0] * 9) == 0.0


def test_stopping_rule_samples_until_the_median_is_known_or_the_cap(monkeypatch):
    from harness.measure import timing
    from harness.plan.cases import Timing

    values = {"steady": iter([1.0] * 100), "noisy": iter([1.0, 2.0] * 100)}
    monkeypatch.setattr(timing, "time_call", lambda prepared, loops, device, cache: next(values[prepared.name]))
    log = []
    prepared = {n: _Recorder(n, log) for n in values}
    out = timing.sample_until_stable(prepared, {n: 1 for n in values}, Timing(samples=5, max_samples=12), {})
    assert len(out["steady"]) == 5  # known to 0 % at once: no more rounds
    assert len(out["noisy"]) == 12  # never within 2 %: stops at max_samples
    stats = timing.summarize(out["noisy"], 1, ci_target=0.02)
    assert stats["ci_low_s"] == 1.0 and stats["ci_high_s"] == 2.0 and "median known to" in stats["warning"]


def test_ci_target_zero_turns_the_stopping_rule_off(monkeypatch):
    # A zero target read as "+-0 %" made every noisy backend take max_samples: a fixed-sample run took 2.7x longer.
    from harness.measure import timing
    from harness.plan.cases import Timing

    values = {"noisy": iter([1.0, 2.0] * 100)}
    monkeypatch.setattr(timing, "time_call", lambda prepared, loops, device, cache: next(values[prepared.name]))
    prepared = {"noisy": _Recorder("noisy", [])}
    out = timing.sample_until_stable(prepared, {"noisy": 1}, Timing(samples=5, max_samples=12, ci_target=0.0), {})
    assert len(out["noisy"]) == 5


def test_with_several_visits_each_takes_its_samples_and_no_more(monkeypatch):
    # More rounds within one visit cannot narrow the spread between visits; they tripled quick.toml's time.
    from harness.measure import timing
    from harness.plan.cases import Timing

    values = {"noisy": iter([1.0, 2.0] * 100)}
    monkeypatch.setattr(timing, "time_call", lambda prepared, loops, device, cache: next(values[prepared.name]))
    prepared = {"noisy": _Recorder("noisy", [])}
    out = timing.sample_until_stable(prepared, {"noisy": 1}, Timing(samples=5, max_samples=12, visits=3), {})
    assert len(out["noisy"]) == 5
