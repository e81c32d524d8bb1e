"""Which machine a row was measured on: a fingerprint of the hardware and the library versions.

Two hosts with the same CPU model, usable cores, memory, GPUs and versions of
the libraries the results depend on are the same *machine* here: their
timings are comparable, a ``spread`` sweep may split cases between them, and a
calibration measured on one serves the other. The fingerprint is built from
the metadata fields every run has recorded, so a run written before the
``machine`` column existed gets the same id from its ``metadata.json``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re

from .cpu import collect_machine, collect_versions

FINGERPRINT_FIELDS = ("cpu_model", "usable_cores", "memory_gib", "gpus", "versions")


def fingerprint(machine: dict, versions: dict) -> dict:
    """The fingerprint of a metadata ``machine`` entry and its ``versions``.

    Memory is rounded to whole GiB (the kernel reserves a little differently
    from boot to boot); a field the metadata lacks reads as None.
    """
    memory = machine.get("memory_bytes")
    return {
        "cpu_model": machine.get("cpu_model"),
        "usable_cores": machine.get("usable_cores"),
        "memory_gib": round(memory / 2**30) if memory else None,
        "gpus": list(machine.get("gpus") or []),
        "versions": dict(sorted((versions or {}).items())),
    }


def machine_id(print_: dict) -> str:
    """A short readable id: the CPU model's words, the cores, and a hash of the whole fingerprint."""
    digest = hashlib.sha1(json.dumps(print_, sort_keys=True).encode()).hexdigest()[:8]
    words = re.sub(r"[^a-z0-9]+", "-", str(print_.get("cpu_model") or "unknown").lower()).strip("-")
    words = "-".join(w for w in words.split("-") if w not in ("r", "tm", "cpu", "processor"))[:28].strip("-")
    return f"{words}-{print_.get('usable_cores')}c-{digest}"


def differences(a: dict, b: dict) -> list[str]:
    """What differs between two fingerprints, one phrase per field (library versions one by one).

    A field one side does not know (None: a run recorded before it was
    collected, such as memory) is not a difference.
    """
    out = []
    for field in FINGERPRINT_FIELDS:
        if field == "versions":
            left, right = a.get(field) or {}, b.get(field) or {}
            for name in sorted(set(left) | set(right)):
                if left.get(name) != right.get(name):
                    out.append(f"{name} {left.get(name, 'absent')} vs {right.get(name, 'absent')}")
        elif a.get(field) is not None and b.get(field) is not None and a.get(field) != b.get(field):
            out.append(f"{field} {a.get(field)} vs {b.get(field)}")
    return out


@functools.cache
def this_machine() -> tuple[str, dict]:
    """``(id, fingerprint)`` of the machine this process runs on (computed once per process)."""
    print_ = fingerprint(collect_machine(), collect_versions())
    return machine_id(print_), print_


def metadata_machine(meta: dict) -> tuple[str, dict]:
    """``(id, fingerprint)`` of the run a ``metadata.json`` describes (any schema version)."""
    print_ = meta.get("fingerprint") or fingerprint(meta.get("machine") or {}, meta.get("versions") or {})
    return machine_id(print_), print_


def machines_of(meta: dict) -> dict[str, dict]:
    """``{machine id: {"fingerprint": ..., "hosts": [...]}}`` of a run's metadata (any schema version)."""
    if meta.get("machines"):
        return meta["machines"]
    if not meta:
        return {}
    machine, print_ = metadata_machine(meta)
    return {machine: {"fingerprint": print_, "hosts": [(meta.get("machine") or {}).get("hostname")]}}
