"""What the commands share: the console, the progress bar, and how sizes and times are read and shown."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import UsageError

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


def seconds(value: float) -> str:
    """A time with a readable unit: 1.23 ms, 45.6 us."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value * 1e9:.3g} ns"
