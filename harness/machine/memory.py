"""Memory as the operating system reports it: free (for the memory guard) and in all (for the fingerprint)."""

from __future__ import annotations


def _meminfo(field: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def available_bytes() -> int | None:
    """``MemAvailable`` from /proc/meminfo, or None where that is not known."""
    return _meminfo("MemAvailable")


def total_bytes() -> int | None:
    """``MemTotal`` from /proc/meminfo, or None where that is not known."""
    return _meminfo("MemTotal")
