import sys
import textwrap

import pytest

import kernels
from kernels import _registry


def test_registry_lists_builtin_backends_with_contract_fields():
    listed = kernels.backends()
    for name in ("numba-cpu", "fftw", "numpy-fft"):
        backend = listed[name]
        assert backend.name == name
        assert backend.method in ("direct", "fft") and backend.device == "cpu"
        assert isinstance(backend.available(), tuple)


def test_unknown_backend_names_the_known_ones():
    with pytest.raises(KeyError, match="known backends are .*numba-cpu"):
        kernels.get_backend("numba-gpu")


def test_register_refuses_duplicates_and_non_backends():
    with pytest.raises(ValueError, match="already registered"):
        kernels.register(kernels.get_backend("fftw"))
    with pytest.raises(ValueError, match="lacks"):
        kernels.register(object())


def test_plugin_that_fails_to_load_becomes_unavailable(tmp_path, monkeypatch):
    """A broken entry point is listed with its error, never raised."""
    pkg = tmp_path / "brokenplugin"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('needs libfoo')\n")
    dist = tmp_path / "brokenplugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [convbench.backends]
            broken = brokenplugin:BACKEND
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_registry, "_registry", {})
    monkeypatch.setattr(_registry, "_discovered", False)
    listed = kernels.backends()
    ok, reason = listed["broken"].available()
    assert not ok and "needs libfoo" in reason
    assert listed["numba-cpu"].available()[0]
    sys.modules.pop("brokenplugin", None)
