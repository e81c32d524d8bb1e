import numpy as np
import pytest

import kernels
from harness.measure.case import run_case
from harness.measure.reference import check_result, error_metrics, reference
from harness.plan.cases import Case, Timing
from kernels import Problem


def test_reference_on_integers_with_known_answer():
    p = Problem("conv", "valid", 5, 2, "float64")
    np.testing.assert_array_equal(reference(p, np.array([2.0, 1, 3, 5, 4]), np.array([1.0, -1])), [[-1, 2, 2, -1]])
    p = Problem("corr", "full", (2, 2), (2, 2), "float64")
    got = reference(p, np.ones((2, 2)), np.ones((2, 2)))
    np.testing.assert_array_equal(got, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_metrics_on_constructed_cases():
    ref = np.array([[3.0, 4.0]])
    m = error_metrics(np.array([[3.0, 4.5]]), ref)
    assert m["err_max_abs"] == pytest.approx(0.5)
    assert m["err_rel_l2"] == pytest.approx(0.5 / 5.0)
    assert error_metrics(ref, ref) == {"err_max_abs": 0.0, "err_rel_l2": 0.0}
    assert error_metrics(np.array([[np.nan, 4.0]]), ref)["err_rel_l2"] == float("inf")
    assert error_metrics(np.zeros((1, 2)), np.zeros((1, 2)))["err_rel_l2"] == 0.0


def test_check_result_flags_shape_and_tolerance():
    p = Problem("corr", "same", (4, 4), (3, 3), "float32")
    ref = np.ones((4, 4))
    assert check_result(p, ref, ref)[0] == "ok"
    assert check_result(p, ref[:3], ref)[0] == "wrong"
    status, reason, _ = check_result(p, ref * 1.01, ref)
    assert status == "wrong" and "tolerance" in reason


class _Perturbed(kernels.BackendBase):
    """A backend that returns numba-cpu's output with one sample nudged."""

    name, method, device = "perturbed", "direct", "cpu"

    def prepare(self, problem, image, kernel):
        inner = kernels.get_backend("numba-cpu").prepare(problem, image, kernel)

        class P(kernels.PreparedBase):
            def __call__(self):
                inner()

            def result(self):
                out = inner.result()
                out.flat[0] += 0.5
                return out

        return P()


class _Raises(_Perturbed):
    name = "raises"

    def prepare(self, problem, image, kernel):
        raise MemoryError("cannot allocate the padded buffer")


@pytest.fixture
def fake_backends(monkeypatch):
    from kernels import _registry

    registry = dict(kernels.backends())
    registry.update(perturbed=_Perturbed(), raises=_Raises())
    monkeypatch.setattr(_registry, "_registry", registry)


def test_perturbed_backend_is_wrong_and_not_timed(fake_backends):
    case = Case(Problem("corr", "same", (32, 32), (3, 3), "float32", 1))
    rows = {r["backend"]: r for r in run_case(case, ["numba-cpu", "perturbed", "raises"], Timing())}
    assert rows["numba-cpu"]["status"] == "ok" and 5 <= rows["numba-cpu"]["n"] <= Timing().max_samples
    assert rows["perturbed"]["status"] == "wrong" and "median_s" not in rows["perturbed"]
    assert rows["raises"]["status"] == "error" and "MemoryError" in rows["raises"]["reason"]


@pytest.mark.parametrize("op, mode", [("conv", "same"), ("corr", "full"), ("corr", "valid")])
def test_the_fft_check_reference_equals_shift_and_add(op, mode):
    """Above the shift-and-add budget the check goes through a float64 FFT: same outputs, every position."""
    from harness.measure.reference import SHIFT_ADD_BUDGET, check_reference

    problem = Problem(op, mode, (400, 357), (17, 16), "float64")
    assert problem.direct_flops // 2 > SHIFT_ADD_BUDGET
    rng = np.random.default_rng(11)
    image, kernel = rng.standard_normal((400, 357)), rng.standard_normal((17, 16))
    np.testing.assert_allclose(check_reference(problem, image, kernel), reference(problem, image, kernel), atol=1e-10)
