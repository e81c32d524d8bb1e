"""Wording shared by every error that lists what is allowed (kernels and harness alike)."""

from __future__ import annotations

import difflib


def nearest(word: str, allowed) -> str:
    """A ' (did you mean X?)' hint naming the closest allowed word, or ''."""
    close = difflib.get_close_matches(str(word), [str(a) for a in allowed], n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def allowed_list(values) -> str:
    """Values quoted and comma-separated, for messages that list what is allowed."""
    return ", ".join(repr(v) for v in values)
