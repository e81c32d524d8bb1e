"""The registry of backends: built-in modules of ``kernels/`` plus installed plugins.

Every public module (no leading underscore) in this package is a backend module
and exposes its backend as ``BACKEND``. Third-party packages register through the
entry-point group ``convbench.backends``; an entry point may name a backend
object, a backend class, or a module with ``BACKEND``. A module that fails to
import becomes an unavailable backend with the error as its reason: it never
breaks import or a sweep. A plugin object that does not derive from
:class:`BackendBase` but has the six required members is wrapped so that it
gets the contract's defaults for everything else.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points

from ._base import DEVICES, METHODS, Backend, BackendBase

ENTRY_POINT_GROUP = "convbench.backends"

_registry: dict[str, Backend] = {}
_discovered = False


REQUIRED = ("name", "method", "device", "available", "supports", "prepare")


class UnavailableBackend(BackendBase):
    """Stands in for a backend whose module or plugin could not be loaded."""

    def __init__(self, name: str, reason: str, method: str = "unknown", device: str = "unknown"):
        self.name, self.method, self.device, self._reason = name, method, device, reason

    def available(self) -> tuple[bool, str]:
        return False, self._reason

    def supports(self, problem) -> tuple[bool, str]:
        return False, self._reason

    def prepare(self, problem, image, kernel):
        raise RuntimeError(f"backend {self.name!r} is unavailable: {self._reason}")


class _Adapted(BackendBase):
    """A plugin object with the required members only, given the contract's defaults for the rest."""

    def __init__(self, inner):
        self._inner = inner
        self.name, self.method, self.device = inner.name, inner.method, inner.device

    def available(self) -> tuple[bool, str]:
        return self._inner.available()

    def supports(self, problem) -> tuple[bool, str]:
        return self._inner.supports(problem)

    def prepare(self, problem, image, kernel):
        prepared = self._inner.prepare(problem, image, kernel)
        if not hasattr(prepared, "notes"):
            prepared.notes = ""
        return prepared


def register(backend: Backend, *, replace: bool = False) -> Backend:
    """Add ``backend`` to the registry under ``backend.name``.

    Raises
    ------
    ValueError
        If the object lacks the contract's attributes, or the name is taken and
        ``replace`` is false.
    """
    missing = [a for a in REQUIRED if not hasattr(backend, a)]
    if missing:
        raise ValueError(f"{backend!r} is not a backend: it lacks {', '.join(missing)}")
    if not isinstance(backend, BackendBase):
        backend = _Adapted(backend)
    if backend.method not in (*METHODS, "unknown"):
        raise ValueError(f"backend {backend.name!r} has method {backend.method!r}; acceptable: 'direct', 'fft'")
    if backend.device not in (*DEVICES, "unknown"):
        raise ValueError(f"backend {backend.name!r} has device {backend.device!r}; acceptable: 'cpu', 'cuda'")
    if backend.name in _registry and not replace:
        raise ValueError(f"a backend named {backend.name!r} is already registered")
    _registry[backend.name] = backend
    return backend


def _from_loaded(obj, name: str) -> Backend:
    if hasattr(obj, "BACKEND"):
        obj = obj.BACKEND
    elif isinstance(obj, type):
        obj = obj()
    if not hasattr(obj, "prepare"):
        raise TypeError(f"{name!r} does not provide a backend (no BACKEND, backend class or object)")
    return obj


def _discover_builtin() -> None:
    package = importlib.import_module(__package__)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        fallback = info.name.replace("_", "-")
        try:
            backend = _from_loaded(importlib.import_module(f"{__package__}.{info.name}"), info.name)
        except Exception as exc:  # a broken module must not break the registry
            backend = UnavailableBackend(fallback, f"module kernels.{info.name} failed to import: {exc}")
        _safe_register(backend)


def _discover_plugins() -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            backend = _from_loaded(ep.load(), ep.name)
        except Exception as exc:
            backend = UnavailableBackend(ep.name, f"plugin {ep.value!r} failed to load: {exc}")
        _safe_register(backend)


def _safe_register(backend: Backend) -> None:
    try:
        register(backend)
    except ValueError as exc:
        name = getattr(backend, "name", repr(backend))
        if name not in _registry:
            _registry[name] = UnavailableBackend(name, str(exc))


def _ensure_discovered() -> None:
    global _discovered
    if not _discovered:
        _discovered = True
        _discover_builtin()
        _discover_plugins()


def backends() -> dict[str, Backend]:
    """All registered backends by name, built-ins and plugins, available or not."""
    _ensure_discovered()
    return dict(_registry)


def get_backend(name: str) -> Backend:
    """The backend registered as ``name``.

    Raises
    ------
    KeyError
        With the list of known names, if there is none by that name.
    """
    known = backends()
    if name not in known:
        raise KeyError(f"unknown backend {name!r}; known backends are {', '.join(sorted(known))}")
    return known[name]
