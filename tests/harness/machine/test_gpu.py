"""GPU state from NVML, checked against a stand-in NVML (no GPU here)."""

import sys
import types

import pytest

from harness.machine import gpu


def _fake_nvml(masks):
    """A pynvml whose throttle mask walks through ``masks``, one value per read."""
    reads = iter(masks)
    fake = types.SimpleNamespace(
        NVML_CLOCK_SM=0,
        NVML_CLOCK_MEM=1,
        NVML_TEMPERATURE_GPU=0,
        nvmlInit=lambda: None,
        nvmlDeviceGetHandleByIndex=lambda i: "gpu0",
        nvmlDeviceGetClockInfo=lambda h, kind: 1980 if kind == 0 else 2619,
        nvmlDeviceGetMaxClockInfo=lambda h, kind: 1980,
        nvmlDeviceGetTemperature=lambda h, kind: 41,
        nvmlDeviceGetPowerUsage=lambda h: 123456,
        nvmlDeviceGetCurrentClocksThrottleReasons=lambda h: next(reads),  # the older binding's name only
    )
    return fake


def test_state_reads_clocks_and_names_throttle_reasons(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_nvml([0x4 | 0x1]))
    state = gpu.collect_gpu_state()
    assert state["available"] and state["sm_clock_mhz"] == 1980 and state["power_w"] == pytest.approx(123.456)
    assert state["throttle"] == ["software power cap"]  # idle (0x1) is not throttling


def test_monitor_flags_only_the_samples_taken_while_throttled(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_nvml([0, 0x40, 0, 0x40 | 0x8]))
    monitor = gpu.ThrottleMonitor()
    assert monitor.active
    for name in ("a", "b", "a", "b"):
        monitor.after_sample(name)
    assert monitor.warning("a", 2) == ""
    assert monitor.warning("b", 2) == (
        "GPU throttled during 2 of 2 samples: hardware slowdown, hardware thermal slowdown"
    )


def test_without_nvml_the_run_says_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    assert gpu.collect_gpu_state()["available"] is False
    monitor = gpu.ThrottleMonitor()
    monitor.after_sample("a")
    assert not monitor.active and monitor.warning("a", 5) == ""


def test_the_fma_peak_counts_the_multiply_adds_its_loop_does():
    """The rate is FMA_PER_PASS multiply-adds per pass: the loop body and the constant must agree."""
    import inspect

    source = inspect.getsource(gpu._fma_kernel)
    assert source.count("* m + seed") == gpu.FMA_PER_PASS

