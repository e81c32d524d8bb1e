"""The journal: an append-only JSON-lines file of result rows, durable after each case.

Each finished case's rows are appended to ``journal.jsonl`` and forced to disk
before the next case starts, so an interrupted sweep loses at most the case in
flight. The first line of a new journal records the schema version.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from ..errors import StorageError, UsageError
from ..schema import SCHEMA_VERSION, check_version

HEADER_KEY = "convbench_journal"


class Journal:
    """Append-only JSON-lines file of result rows, durable after each :meth:`append`.

    Opening cuts off a truncated last line (a write killed half-way), so new
    rows never run into it, and starts a new file with the schema header. A
    failed append (disk full) is rolled back to the last complete row before
    the error is raised.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        _drop_partial_tail(self.path)
        self._file = open(self.path, "ab")
        if self._file.tell() == 0:
            self._write(json.dumps({HEADER_KEY: {"schema_version": SCHEMA_VERSION}}) + "\n")

    def append(self, rows: list[dict]) -> None:
        """Write ``rows`` as one block and force them to disk.

        Raises
        ------
        StorageError
            If the write fails; the journal is left as it was before the call.
        """
        self._write("".join(json.dumps(row, allow_nan=True) + "\n" for row in rows))

    def _write(self, text: str) -> None:
        start = self._file.tell()
        try:
            self._file.write(text.encode())
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            try:
                self._file.truncate(start)
                self._file.seek(start)
            except OSError:
                pass
            raise StorageError(
                f"cannot write results to {str(self.path)!r}: {exc.strerror or exc}; every finished case is "
                "saved there; free space and continue with --resume"
            ) from None

    def close(self) -> None:
        try:
            self._file.close()
        except OSError:
            pass

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _drop_partial_tail(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return
    keep = data.rfind(b"\n") + 1
    warnings.warn(f"{path}: dropped a truncated last line ({len(data) - keep} bytes) before appending", stacklevel=3)
    with open(path, "r+b") as f:
        f.truncate(keep)


def read_journal(path: str | os.PathLike) -> list[dict]:
    """Rows of a journal; a truncated or corrupt last line is dropped with a warning.

    Raises
    ------
    UsageError
        If a line before the last is corrupt, or the journal is from a newer schema.
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                warnings.warn(f"{path}: last line {number} is truncated (interrupted write); dropped it", stacklevel=2)
                continue
            raise UsageError(f"{path}: line {number} is not valid JSON; the journal is corrupt") from None
        if HEADER_KEY in record:
            try:
                check_version(record[HEADER_KEY].get("schema_version"), str(path))
            except ValueError as exc:
                raise UsageError(str(exc)) from None
            continue
        rows.append(record)
    return rows
