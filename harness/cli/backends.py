"""``convbench backends``: every registered backend, whether it can run here, and why not."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from kernels import backends

from ._console import add_json_flag, console, print_json


def add_parser(sub) -> None:
    listing = sub.add_parser("backends", help="list backends, whether they can run here, and why not")
    add_json_flag(listing)
    listing.set_defaults(func=main)


def main(args) -> int:
    if args.json:
        records = []
        for name, backend in sorted(backends().items()):
            ok, reason = backend.available()
            records.append(
                dict(name=name, method=backend.method, device=backend.device, available=ok, reason=reason,
                     options=backend.options())
            )
        print_json(records)
        return 0
    table = Table(title="convbench backends")
    for column in ("name", "method", "device", "available", "reason"):
        table.add_column(column)
    for name, backend in sorted(backends().items()):
        ok, reason = backend.available()
        table.add_row(name, backend.method, backend.device, "yes" if ok else "no", escape(reason))
    console.print(table)
    return 0
