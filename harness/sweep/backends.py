"""The sweep's backends in one process: their options applied (and restored), their own account of themselves."""

from __future__ import annotations

from kernels import get_backend


def configure_backends(options: dict[str, dict]) -> dict[str, dict]:
    """Apply per-backend options; return what was in force before, to restore it."""
    previous = {}
    for name, values in options.items():
        backend = get_backend(name)
        previous[name] = backend.options()
        backend.configure(**values)
    return previous


def backend_metadata(names) -> dict:
    """Each backend's own account of itself (options, planner, wisdom...), for the sidecar."""
    out = {}
    for name in names:
        backend = get_backend(name)
        available = backend.available()[0]
        entry = {"method": backend.method, "device": backend.device, "available": available}
        entry["options"] = backend.options()
        entry.update(backend.metadata())
        out[name] = entry
    return out
