"""``convbench merge DIR DIR... --out DIR``: runs from several machines in one table, report and plots."""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from ..present.report import write_report
from ..store.archive import prepare_out_dir
from ..store.lock import DirectoryLock
from ..store.merge import merge_runs
from ..store.tables import write_metadata, write_table
from ._console import console


def add_parser(sub) -> None:
    merge = sub.add_parser(
        "merge", help="join runs from several machines into one table; the report puts the machines side by side"
    )
    merge.add_argument("dirs", nargs="+", metavar="DIR", help="results directories (a fleet's per-host runs, say)")
    merge.add_argument("--out", required=True, help="directory for the merged table, metadata, report and plots")
    merge.set_defaults(func=main)


def main(args) -> int:
    out_dir = Path(args.out)
    if any(out_dir.resolve() == Path(d).resolve() for d in args.dirs):
        raise UsageError(f"--out {args.out!r} is one of the runs to merge; name a new directory")
    frame, meta = merge_runs(args.dirs)
    with DirectoryLock(out_dir):
        archived = prepare_out_dir(out_dir, resume=False)
        if archived:
            console.print(f"the earlier contents of {out_dir} were moved to {archived}")
        write_metadata(out_dir, meta)
        write_table(out_dir, frame)
    machines = sorted(frame["machine"].unique())
    console.print(f"{len(frame)} rows from {len(args.dirs)} runs, {len(machines)} machines: {', '.join(machines)}")
    console.print(f"wrote {write_report(out_dir)}")
    return 0
