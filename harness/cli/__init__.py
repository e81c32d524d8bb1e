"""Stage: the ``convbench`` command line, one module per command (run, plot, choose, compare, merge...)."""

from __future__ import annotations

import sys

from ..errors import ClusterError, StorageError, UsageError
from ..sweep.threads import apply_thread_settings
from . import backends, calibrate, choose, compare, merge, plot, report, run
from ._console import Parser

COMMANDS = (run, plot, backends, choose, calibrate, compare, report, merge)


def build_parser() -> Parser:
    """The argument parser of ``convbench``."""
    parser = Parser(prog="convbench", description="Benchmark direct vs FFT convolution and correlation.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``convbench`` command; returns the exit code (2: bad input, 1: results not writable)."""
    apply_thread_settings()  # before any command can start numba's or FFTW's thread pools
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, StorageError, ClusterError) as exc:
        print(f"convbench: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
