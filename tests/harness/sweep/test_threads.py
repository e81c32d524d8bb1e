"""The thread and BLAS settings the entry points apply before any thread pool starts."""

import os
import subprocess
import sys

import pytest

from harness.sweep.threads import blas_core_type

ZEN5 = (
    "vendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\n"
    "flags\t\t: fma avx2 avx512f avx512dq avx512bw avx512vl\n"
)


@pytest.mark.parametrize(
    ("cpuinfo", "expected"),
    [
        (ZEN5, "SkylakeX"),  # OpenBLAS 0.3.31 runs Haswell kernels here: half the vector width
        (ZEN5.replace("26", "25"), None),  # Zen 4: OpenBLAS knows it
        (ZEN5.replace(" avx512vl", ""), None),  # without a subset SkylakeX's kernels use
        (ZEN5.replace("AuthenticAMD", "GenuineIntel"), None),  # Intel: OpenBLAS's own detection
        ("flags\t\t: avx512f\n", None),  # no family to go by
        (ZEN5 + "\nvendor_id\t: GenuineIntel\n", "SkylakeX"),  # the first processor decides
    ],
)
def test_blas_core_type_only_where_openblas_misreads_the_cpu(cpuinfo, expected):
    assert blas_core_type(cpuinfo) == expected


def test_a_core_type_the_user_set_is_kept():
    code = (
        "import os; from harness.sweep.threads import apply_thread_settings\n"
        "apply_thread_settings(); print(os.environ['OPENBLAS_CORETYPE'])"
    )
    env = {**os.environ, "OPENBLAS_CORETYPE": "Haswell"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Haswell"
