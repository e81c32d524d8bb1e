"""One way to import an optional package: the module or ``None``, and the reason kept for ``available()``.

Any exception counts, not only ``ImportError``: a package that is installed but
broken (a GPU library against the wrong driver, a numpy it was not built for)
makes its backend unavailable with the reason instead of breaking the registry
or a sweep.
"""

from __future__ import annotations

import importlib

_failures: dict[str, str] = {}


def optional_import(name: str):
    """``importlib.import_module(name)``, or ``None`` when it fails (see :func:`import_problem`)."""
    if name in _failures:
        return None
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable here"
        _failures[name] = f"{type(exc).__name__}: {exc}"
        return None


def import_problem(names) -> str:
    """Why the first of ``names`` that cannot be imported fails, or '' when all import."""
    for name in names:
        if optional_import(name) is None:
            return f"{name} cannot be imported ({_failures[name]})"
    return ""
