"""What the commands share: the console, the progress bar, and how sizes and times are read and shown."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import UsageError
from ..present.style import FORMATS

console = Console(stderr=False)
DEFAULT_RESULTS = Path("results")


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2, no usage dump)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


class RichProgress:
    """Sweep callbacks drawn as a rich progress bar."""

    def __init__(self, bar: Progress):
        self.bar, self.task = bar, None

    def start(self, total: int) -> None:
        self.task = self.bar.add_task("sweep", total=total)

    def case_started(self, case) -> None:
        p = case.problem
        self.bar.update(
            self.task,
            description=f"{p.op} {p.mode} {p.dtype} "
            f"{p.image_shape[0]}x{p.image_shape[1]} * {p.kernel_shape[0]}x{p.kernel_shape[1]}",
        )

    def case_finished(self, case, rows) -> None:
        self.bar.advance(self.task)

    def note(self, text: str) -> None:
        self.bar.console.print(f"[yellow]{text}[/]")


def progress_bar(transient: bool) -> Progress:
    """The bar a sweep draws: case description, bar, count, elapsed time."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=transient)


def parse_shape(text: str, what: str) -> tuple[int, int]:
    """``"N"`` -> (N, N); ``"HxW"`` -> (H, W); a 1-D signal of length L is ``"1xL"``."""
    parts = text.lower().split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        dims = []
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or min(dims) < 1:
        raise UsageError(f"--{what}: expected N, HxW or 1xL with positive integers, got {text!r}")
    return dims[0], dims[1]


def print_json(value) -> None:
    """``value`` as JSON on stdout, for scripts (``--json``): NaN and infinities as null, tuples as lists."""

    def clean(v):
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            return None
        return v

    json.dump(clean(value), sys.stdout, indent=2)
    sys.stdout.write("\n")


def add_json_flag(parser) -> None:
    """The ``--json`` flag every reporting command takes."""
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")


def _formats(text: str) -> tuple[str, ...]:
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if not formats or unknown:
        raise argparse.ArgumentTypeError(f"unknown format {text!r}; acceptable: {', '.join(FORMATS)} (comma-separated)")
    return formats


def add_format_flag(parser) -> None:
    """``--format png,svg,pdf``: the file formats plots are written in (PNG always first for the report)."""
    parser.add_argument(
        "--format",
        type=_formats,
        default=("png",),
        help="plot formats, comma-separated: png, svg, pdf (default png)",
    )


def percent(text: str) -> float:
    """``"5%"`` or ``"0.05"`` -> 0.05."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage such as 5% or 0.05, got {text!r}") from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"expected a percentage from 0% to 1000%, got {text!r}")
    return value


def seconds(value: float) -> str:
    """A time with a readable unit: 1.23 ms, 45.6 us."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value * 1e9:.3g} ns"
