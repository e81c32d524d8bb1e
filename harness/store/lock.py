"""One writer per results directory: a second run into it is refused instead of interleaving journals."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import UsageError

LOCK = ".convbench.lock"


class DirectoryLock:
    """An exclusive ``flock`` on ``DIR/.convbench.lock`` while a run writes there.

    The operating system drops the lock when the process dies, so a killed run
    never leaves a stale lock behind; the file itself stays and is harmless.
    """

    def __init__(self, out_dir: str | os.PathLike):
        self.path = Path(out_dir) / LOCK
        self._file = None

    def acquire(self) -> None:
        """Take the lock.

        Raises
        ------
        UsageError
            If the directory cannot be created or written, or another process
            holds the lock (naming that process when it wrote its pid).
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+")
        except OSError as exc:
            raise UsageError(f"cannot write results to {str(self.path.parent)!r}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            who = f" (pid {holder})" if holder else ""
            raise UsageError(
                f"another convbench run{who} is writing to {str(self.path.parent)!r}; "
                "wait for it, or choose another directory with --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Let go of the lock (closing the file releases the flock)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> DirectoryLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
