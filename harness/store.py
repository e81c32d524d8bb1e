"""Results on disk: an append-only journal while a sweep runs, Parquet and a JSON sidecar after.

Each finished row is appended to ``journal.jsonl`` and flushed to disk before the
next case starts, so an interrupted sweep loses at most the case in flight. The
Parquet table is rebuilt from the journal; a run that would overwrite an earlier
one moves the earlier files to ``archive/<time>/`` first.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings
from pathlib import Path

import pandas as pd

from .errors import UsageError
from .peak import add_peak_fraction

JOURNAL = "journal.jsonl"
TABLE = "results.parquet"
METADATA = "metadata.json"
_RUN_FILES = (
    JOURNAL,
    TABLE,
    METADATA,
    "times.png",
    "crossover.png",
    "winner.png",
    "model.png",
    "accuracy.png",
    "report.md",
)

IDENTITY = (
    "backend",
    "method",
    "device",
    "op",
    "mode",
    "image_h",
    "image_w",
    "kernel_h",
    "kernel_w",
    "dtype",
    "threads",
    "dist",
    "seed",
)
COLUMNS = IDENTITY + (
    "options",
    "status",
    "reason",
    "compile_s",
    "plan_s",
    "alloc_s",
    "upload_s",
    "first_call_s",
    "loops",
    "n",
    "min_s",
    "median_s",
    "q1_s",
    "q3_s",
    "mean_s",
    "std_s",
    "samples_s",
    "warning",
    "gflops",
    "peak_fraction",
    "fft_h",
    "fft_w",
    "fft_blocks",
    "err_max_abs",
    "err_rel_l2",
    "err_max_scaled",
    "err_positions",
    "run_id",
)


class Journal:
    """Append-only JSON-lines file of result rows, durable after each :meth:`append`.

    Opening cuts off a truncated last line (a write killed half-way), so new
    rows never run into it. A failed append (disk full) is rolled back to the
    last complete row before the error is raised.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        _drop_partial_tail(self.path)
        self._file = open(self.path, "ab")

    def append(self, rows: list[dict]) -> None:
        """Write ``rows`` as one block and force them to disk.

        Raises
        ------
        UsageError
            If the write fails; the journal is left as it was before the call.
        """
        data = "".join(json.dumps(row, allow_nan=True) + "\n" for row in rows).encode()
        start = self._file.tell()
        try:
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            try:
                self._file.truncate(start)
                self._file.seek(start)
            except OSError:
                pass
            raise UsageError(
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
    """Rows of a journal; a truncated or corrupt last line is dropped with a warning."""
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                warnings.warn(f"{path}: last line {number} is truncated (interrupted write); dropped it", stacklevel=2)
            else:
                raise UsageError(f"{path}: line {number} is not valid JSON; the journal is corrupt") from None
    return rows


def rows_to_frame(rows: list[dict]) -> pd.DataFrame:
    """A DataFrame with the standard columns first, in their standard order."""
    frame = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in frame:
            frame[column] = None
    extra = [c for c in frame.columns if c not in COLUMNS]
    return frame[list(COLUMNS) + extra]


def write_table(
    out_dir: str | os.PathLike, rows: list[dict], peaks: dict | None = None, gpu_peaks: dict | None = None
) -> pd.DataFrame:
    """Write ``results.parquet`` atomically (temporary file, then rename) and return the frame.

    With ``peaks`` (matmul GFLOP/s by dtype and threads) and ``gpu_peaks``, rows get ``peak_fraction``.
    """
    frame = rows_to_frame(rows)
    if peaks or gpu_peaks:
        add_peak_fraction(frame, peaks or {}, gpu_peaks)
    target = Path(out_dir) / TABLE
    tmp = target.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, target)
    return frame


def write_metadata(out_dir: str | os.PathLike, metadata: dict) -> None:
    """Write the JSON sidecar atomically."""
    target = Path(out_dir) / METADATA
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_json_safe(metadata), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, target)


def read_metadata(out_dir: str | os.PathLike) -> dict:
    """The JSON sidecar of a results directory, or ``{}`` when there is none."""
    path = Path(out_dir) / METADATA
    return json.loads(path.read_text()) if path.exists() else {}


def load_results(out_dir: str | os.PathLike) -> pd.DataFrame:
    """The results table of a sweep directory: the Parquet file, else the journal.

    Raises
    ------
    UsageError
        If the directory holds neither.
    """
    out_dir = Path(out_dir)
    if (out_dir / TABLE).exists():
        return pd.read_parquet(out_dir / TABLE)
    rows = read_journal(out_dir / JOURNAL)
    if not rows:
        raise UsageError(f"{str(out_dir)!r} holds no results (no {TABLE} and no {JOURNAL} rows)")
    return rows_to_frame(rows)


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
    present = [name for name in _RUN_FILES if (out_dir / name).exists()]
    if resume or not present:
        return None
    archive = out_dir / "archive" / time.strftime("%Y%m%d-%H%M%S")
    archive.mkdir(parents=True, exist_ok=True)
    for name in present:
        shutil.move(str(out_dir / name), str(archive / name))
    return archive


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
