"""Free memory as the operating system reports it, for the memory guard."""

from __future__ import annotations


def available_bytes() -> int | None:
    """``MemAvailable`` from /proc/meminfo, or None where that is not known."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
