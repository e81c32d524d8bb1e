import math
import time

from harness.machine.state import CpuActivity, collect_machine_state, noise_warning, tuning_warnings


def test_state_has_load_and_cores():
    state = collect_machine_state()
    assert len(state["load_average"]) == 3 and state["cores"] >= 1


def test_tuning_warnings_name_what_makes_timings_noisy():
    state = {"load_average": [3.0, 1.0, 1.0], "cores": 2, "governors": ["powersave"], "turbo": True}
    text = " | ".join(tuning_warnings(state))
    assert "load average 3.00 on 2 cores" in text and "powersave" in text and "turbo" in text
    assert tuning_warnings({"load_average": [0.1], "cores": 2, "governors": ["performance"], "turbo": False}) == []


def test_own_work_is_not_counted_as_others():
    activity = CpuActivity()
    end = time.perf_counter() + 0.2
    while time.perf_counter() < end:  # busy in this process only
        pass
    measured = activity.measure()
    if math.isnan(measured["other_cpu_frac"]):
        return  # no /proc/stat here
    assert 0.0 <= measured["other_cpu_frac"] <= 1.0 and 0.0 <= measured["steal_frac"] <= 1.0


def test_noise_warning_thresholds():
    assert noise_warning({"other_cpu_frac": 0.05, "steal_frac": 0.0}) == ""
    assert "other processes used 40%" in noise_warning({"other_cpu_frac": 0.4, "steal_frac": 0.0})
    assert "hypervisor stole 20%" in noise_warning({"other_cpu_frac": 0.0, "steal_frac": 0.2})
    assert noise_warning({"other_cpu_frac": float("nan"), "steal_frac": float("nan")}) == ""
