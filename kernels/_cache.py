"""The per-user cache directory for compiled loops and FFTW wisdom."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    """``$CONVBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/convbench``, else ``~/.cache/convbench``."""
    root = os.environ.get("CONVBENCH_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "convbench"
    )
    return Path(root)
