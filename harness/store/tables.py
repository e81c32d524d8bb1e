"""The Parquet table and its JSON sidecar: written atomically, read back with the schema checked."""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import pandas as pd

from ..errors import UsageError
from ..machine.fingerprint import metadata_machine
from ..measure.visits import pool_visits
from ..schema import COLUMN_NAMES, JOURNAL, LAYER_DEFAULTS, METADATA, SCHEMA_VERSION, TABLE, check_version
from .journal import read_journal


def rows_to_frame(rows: list[dict]) -> pd.DataFrame:
    """A DataFrame with the standard columns first, in their standard order."""
    return standard_order(pd.DataFrame(rows))


def journal_table(rows: list[dict], meta: dict) -> pd.DataFrame:
    """The table of a journal's rows: each row's visits pooled (:func:`harness.measure.visits.pool_visits`).

    ``meta`` is the run's metadata: its timing's ``ci_target`` decides which pooled rows are warned about.
    """
    return rows_to_frame(pool_visits(rows, (meta.get("timing") or {}).get("ci_target", 0.0)))


def standard_order(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every standard column (missing ones empty) first, extras after."""
    frame = frame.copy()
    for column in COLUMN_NAMES:
        if column not in frame:
            frame[column] = None
    extra = [c for c in frame.columns if c not in COLUMN_NAMES]
    return frame[list(COLUMN_NAMES) + extra]


def write_table(out_dir: str | os.PathLike, frame: pd.DataFrame) -> Path:
    """Write ``results.parquet`` atomically (temporary file, then rename); returns its path."""
    target = Path(out_dir) / TABLE
    tmp = target.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, target)
    return target


def write_metadata(out_dir: str | os.PathLike, metadata: dict) -> None:
    """Write the JSON sidecar atomically, with the schema version."""
    target = Path(out_dir) / METADATA
    tmp = target.with_suffix(".json.tmp")
    record = {**metadata, "schema_version": SCHEMA_VERSION}
    tmp.write_text(json.dumps(_json_safe(record), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, target)


def read_metadata(out_dir: str | os.PathLike) -> dict:
    """The JSON sidecar of a results directory, or ``{}`` when there is none."""
    path = Path(out_dir) / METADATA
    return json.loads(path.read_text()) if path.exists() else {}


def load_results(out_dir: str | os.PathLike) -> pd.DataFrame:
    """The results table of a sweep directory: the Parquet file, else the journal.

    A table of an older schema loads with a warning that says what reads as
    missing; one of a newer schema is refused. Rows without a ``machine``
    (written before that column) get the machine of the directory's metadata.

    Raises
    ------
    UsageError
        If the directory holds neither, or its schema is newer than this convbench.
    """
    out_dir = Path(out_dir)
    if (out_dir / TABLE).exists():
        meta = read_metadata(out_dir)
        try:
            note = check_version(meta.get("schema_version"), str(out_dir)) if meta else ""
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if note:
            warnings.warn(note, stacklevel=2)
        return _older_filled(standard_order(pd.read_parquet(out_dir / TABLE)), meta)
    rows = read_journal(out_dir / JOURNAL)
    if not rows:
        raise UsageError(f"{str(out_dir)!r} holds no results (no {TABLE} and no {JOURNAL} rows)")
    meta = read_metadata(out_dir)
    return _older_filled(journal_table(rows, meta), meta)


def _older_filled(frame: pd.DataFrame, meta: dict) -> pd.DataFrame:
    """``frame`` with what older tables lack: one visit, single images (schema 3 and older), the machine (2)."""
    frame["visits"] = pd.to_numeric(frame["visits"]).fillna(1).astype(int)
    for column, value in LAYER_DEFAULTS.items():  # single images, from before layers (schema 3 and older)
        frame[column] = frame[column].fillna(value) if frame[column].notna().any() else value
        if column != "pass":
            frame[column] = frame[column].astype(int)
    missing = frame["machine"].isna()
    if missing.any() and meta:
        frame["machine"] = frame["machine"].astype(object)
        frame.loc[missing, "machine"] = metadata_machine(meta)[0]
    return frame


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
