"""A results directory made ready for a run: created, checked writable, an earlier run moved aside."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from ..errors import UsageError
from ..schema import RUN_FILES


def prepare_out_dir(out_dir: str | os.PathLike, resume: bool) -> Path | None:
    """Create ``out_dir`` and check it is writable; archive an earlier run unless resuming.

    Returns the archive folder when an earlier run was moved there.

    Raises
    ------
    UsageError
        If the directory cannot be created or written.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write results to {str(out_dir)!r}: {exc.strerror or exc}") from None
    present = [name for name in RUN_FILES if (out_dir / name).exists()]
    if resume or not present:
        return None
    archive = out_dir / "archive" / time.strftime("%Y%m%d-%H%M%S")
    archive.mkdir(parents=True, exist_ok=True)
    for name in present:
        shutil.move(str(out_dir / name), str(archive / name))
    return archive
