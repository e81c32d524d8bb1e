"""CNN layer cases through the harness: config axes, inputs, the case runner and the table's columns."""

import pytest

from harness.errors import UsageError
from harness.measure.case import NO_LAYERS, run_case
from harness.plan.cases import Case, Timing
from harness.plan.config import parse_config
from harness.plan.inputs import make_inputs
from harness.schema import case_key
from kernels import Problem

SWEEP = {"backends": ["numba-cpu", "im2col-gemm", "winograd", "fftw", "numpy-fft", "fftw-oa"], "image_size": 10,
         "kernel_size": 3}  # fmt: skip


def test_layer_axes_expand_like_every_other_axis():
    config = parse_config({"sweep": {**SWEEP, "batch": [1, 2], "in_channels": 3, "pass": ["forward", "backward-data"]}})
    problems = [c.problem for c in config.cases]
    assert [(p.batch, p.in_channels, p.out_channels, p.pass_) for p in problems] == [
        (1, 3, 1, "forward"), (1, 3, 1, "backward-data"), (2, 3, 1, "forward"), (2, 3, 1, "backward-data"),
    ]  # fmt: skip
    assert not parse_config({"sweep": SWEEP}).cases[0].problem.is_layer


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"batch": 0}, r"sweep.batch must be an integer >= 1, got 0"),
        ({"in_channels": [2, "4"]}, r"sweep.in_channels must be an integer >= 1, got '4'"),
        ({"pass": "backwards"}, r"sweep.pass: unknown value 'backwards'.*acceptable values are 'forward'"),
        ({"batch": 2, "dist": "image"}, r"sweep.dist: 'image' is drawn for one image and one kernel"),
    ],
)
def test_bad_layer_axes_name_the_key_and_what_is_allowed(extra, message):
    with pytest.raises(UsageError, match=message):
        parse_config({"sweep": {**SWEEP, **extra}})


def test_layer_inputs_have_each_pass_shapes_and_are_reproducible():
    case = Case(Problem("corr", "valid", (10, 9), (3, 2), "float64", 1, 2, 3, 4, "backward-weights"), "normal", 5)
    x, dy = make_inputs(case)
    assert x.shape == (2, 3, 10, 9) and dy.shape == (2, 4, 8, 8)
    again = make_inputs(case)
    assert (again[0] == x).all() and (again[1] == dy).all()


def test_a_layer_case_runs_on_the_backends_that_take_layers_and_no_other():
    timing = Timing(samples=5, min_sample_seconds=0.0, ci_target=0)
    case = Case(Problem("corr", "same", (10, 10), (3, 3), "float32", 2, 2, 3, 4, "backward-data"))
    rows = {r["backend"]: r for r in run_case(case, SWEEP["backends"], timing)}
    for name in ("numba-cpu", "im2col-gemm", "winograd", "fftw", "numpy-fft"):
        assert rows[name]["status"] == "ok", rows[name]["reason"]
        # Errors against the exact reference, at every one of the 2 x 3 x 10 x 10 outputs.
        assert rows[name]["err_rel_l2"] < 1e-5 and rows[name]["err_positions"] == 600
        assert (rows[name]["batch"], rows[name]["in_channels"], rows[name]["out_channels"]) == (2, 3, 4)
        assert rows[name]["pass"] == "backward-data"
    assert (rows["fftw-oa"]["status"], rows["fftw-oa"]["reason"]) == ("unsupported", NO_LAYERS)
    # A single-image row keeps its key whether or not it carries the layer columns (tables before layers).
    single = Case(Problem("corr", "same", (10, 10), (3, 3), "float32", 2)).identity()
    older = {k: v for k, v in single.items() if k not in ("batch", "in_channels", "out_channels", "pass")}
    assert case_key(older) == case_key(single)


LAYER_SET = [
    {"name": "a", "image_size": 14, "kernel_size": 3, "in_channels": 8, "out_channels": 16},
    {"name": "b", "image_shape": [[7, 9]], "kernel_size": 1, "in_channels": 16, "out_channels": 4},
]


def test_a_layer_set_lists_layers_instead_of_a_product():
    config = parse_config({"sweep": {"backends": ["numba-cpu"], "layers": LAYER_SET, "batch": [1, 8]}})
    got = [(c.problem.image_shape, c.problem.kernel_shape, c.problem.in_channels, c.problem.out_channels,
            c.problem.batch) for c in config.cases]  # fmt: skip
    assert got == [
        ((14, 14), (3, 3), 8, 16, 1),
        ((14, 14), (3, 3), 8, 16, 8),
        ((7, 9), (1, 1), 16, 4, 1),
        ((7, 9), (1, 1), 16, 4, 8),
    ]


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"layers": LAYER_SET, "image_size": 8}, r"sweep.image_size cannot stand beside sweep.layers"),
        ({"layers": [{"image_size": 8, "kernel_size": 3, "channels": 2}]}, r"unknown key sweep.layers\[1\].'channels'"),
        ({"layers": [{"image_size": [8, 16], "kernel_size": 3}]}, r"sweep.layers\[1\]: one image size and one kernel"),
        ({"layers": [{"kernel_size": 3}]}, r"sweep.layers\[1\] needs exactly one of 'image_size'"),
        ({"layers": {"image_size": 8}}, r"sweep.layers must be an array of tables"),
    ],
)
def test_a_bad_layer_set_names_the_layer_and_the_key(sweep, message):
    with pytest.raises(UsageError, match=message):
        parse_config({"sweep": {"backends": ["numba-cpu"], **sweep}})
