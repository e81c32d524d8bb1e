import pytest

from harness.errors import UsageError
from harness.machine.cpu import all_cores
from harness.plan.config import load_config, parse_config

BASE = {"sweep": {"backends": ["numba-cpu"], "image_size": [16], "kernel_size": [3]}}


def config(**sweep):
    raw = {"sweep": dict(BASE["sweep"], **sweep)}
    return parse_config(raw)


def test_lists_expand_to_the_cartesian_product():
    cfg = config(
        op=["corr", "conv"],
        mode=["same", "valid"],
        dtype=["float32", "float64"],
        image_size=[16, 32],
        kernel_size=[3, 5],
        threads=[1, 2],
    )
    assert len(cfg.cases) == 2 * 2 * 2 * 2 * 2 * 2
    assert {c.problem.threads for c in cfg.cases} == {1, 2}


def test_shapes_accept_rectangles_and_1d_lengths():
    raw = {"sweep": {"backends": ["fftw"], "image_shape": [[48, 64], [100]], "kernel_shape": [[3, 5], [7]]}}
    shapes = {(c.problem.image_shape, c.problem.kernel_shape) for c in parse_config(raw).cases}
    assert ((48, 64), (3, 5)) in shapes and ((1, 100), (1, 7)) in shapes


def test_defaults_and_all_threads():
    cfg = config()
    case = cfg.cases[0]
    assert (case.problem.op, case.problem.mode, case.problem.dtype, case.dist) == ("corr", "same", "float32", "uniform")
    assert case.problem.threads == all_cores()  # "all", the default, is every core this process may use


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            {"sweep": dict(BASE["sweep"], kernal_size=[3])},
            r"unknown key sweep\.'kernal_size' \(did you mean 'kernel_size'\?\)",
        ),
        ({"sweeps": {}}, r"unknown key 'sweeps' \(did you mean 'sweep'\?\)"),
        (
            {"sweep": dict(BASE["sweep"], backends=["numba-cuda2"])},
            r"unknown backend 'numba-cuda2'.*known backends are",
        ),
        (
            {"sweep": dict(BASE["sweep"], op="convolve")},
            r"sweep\.op: unknown value 'convolve'.*acceptable values are 'corr', 'conv'",
        ),
        ({"sweep": dict(BASE["sweep"], mode="samee")}, r"did you mean 'same'"),
        ({"sweep": dict(BASE["sweep"], dtype="float16")}, r"acceptable values are 'float32', 'float64'"),
        ({"sweep": dict(BASE["sweep"], image_size=[0])}, r"sweep\.image_size must be an integer >= 1, got 0"),
        ({"sweep": dict(BASE["sweep"], kernel_size=[-3])}, r"sweep\.kernel_size must be an integer >= 1"),
        (
            {"sweep": dict(BASE["sweep"], mode="valid", kernel_size=[3, 31])},
            r"kernel 31x31 is larger than image 16x16 in mode 'valid'",
        ),
        ({"sweep": dict(BASE["sweep"], threads=0)}, r"sweep\.threads"),
        ({"sweep": dict(BASE["sweep"], dist="cauchy")}, r"acceptable values are 'uniform', 'normal', 'image'"),
        ({"sweep": {"backends": ["fftw"], "kernel_size": [3]}}, r"exactly one of 'image_size'"),
        ({"sweep": {"image_size": [8], "kernel_size": [3]}}, r"sweep\.backends is required"),
        ({}, r"missing \[sweep\] table"),
        (dict(BASE, timing={"samples": 2}), r"timing\.samples must be an integer >= 5"),
        (dict(BASE, timing={"warmpu": 1}), r"did you mean 'warmup'"),
        (dict(BASE, timing={"max_case_seconds": -1}), r"timing\.max_case_seconds must be a number >= 0"),
    ],
)
def test_bad_configs_name_the_key_and_what_is_allowed(raw, message):
    with pytest.raises(UsageError, match=message):
        parse_config(raw)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[sweep\nbackends = 1")
    with pytest.raises(UsageError, match="is not valid TOML"):
        load_config(bad)


def test_shipped_configs_are_valid():
    from harness.plan.configs import config_dir

    paths = sorted(config_dir().glob("*.toml"))
    assert len(paths) >= 7, paths  # quick, calibrate, validate, accuracy, fft, direct-cpu, cuda
    for path in paths:
        assert load_config(path).cases, path


def test_backend_options_are_validated_against_the_backend():
    raw = {"sweep": dict(BASE["sweep"], backends=["fftw"]), "backend_options": {"fftw": {"planner": "FFTW_PATIENT"}}}
    assert parse_config(raw).backend_options == {"fftw": {"planner": "FFTW_PATIENT"}}
    bad_value = dict(raw, backend_options={"fftw": {"planner": "FFTW_MEASUR"}})
    with pytest.raises(UsageError, match=r"did you mean 'FFTW_MEASURE'.*acceptable values are 'FFTW_ESTIMATE'"):
        parse_config(bad_value)
    bad_key = dict(raw, backend_options={"fftw": {"planer": "FFTW_MEASURE"}})
    with pytest.raises(UsageError, match=r"unknown option 'planer' \(did you mean 'planner'\?\)"):
        parse_config(bad_key)
    not_swept = dict(raw, backend_options={"fftw-oa": {"planner": "FFTW_MEASURE"}})
    with pytest.raises(UsageError, match=r"'fftw-oa' is not in sweep.backends"):
        parse_config(not_swept)
    no_options = {"sweep": BASE["sweep"], "backend_options": {"numba-cpu": {"planner": "FFTW_MEASURE"}}}
    with pytest.raises(UsageError, match=r"numba-cpu takes none"):
        parse_config(no_options)


def test_timing_cache_is_validated_and_defaults_to_warm():
    assert parse_config(BASE).cases and parse_config(BASE).timing.cache == "warm"
    assert parse_config(dict(BASE, timing={"cache": "cold"})).timing.cache == "cold"
    with pytest.raises(UsageError, match=r"timing.cache: unknown value 'cool' \(did you mean 'cold'\?\)"):
        parse_config(dict(BASE, timing={"cache": "cool"}))


def test_stopping_rule_settings_are_validated():
    timing = parse_config(dict(BASE, timing={"ci_target": 0.01, "max_samples": 40})).timing
    assert (timing.ci_target, timing.max_samples) == (0.01, 40)
    with pytest.raises(UsageError, match=r"timing.max_samples must be an integer >= 10"):
        parse_config(dict(BASE, timing={"samples": 10, "max_samples": 7}))


def test_visits_must_be_a_positive_integer():
    raw = {"sweep": {"backends": ["numba-cpu"], "image_size": [16], "kernel_size": [3]}}
    assert parse_config(raw).timing.visits == 1
    assert parse_config({**raw, "timing": {"visits": 3}}).timing.visits == 3
    for bad in (0, 1.5, "3"):
        with pytest.raises(UsageError, match=r"timing.visits must be an integer >= 1"):
            parse_config({**raw, "timing": {"visits": bad}})
