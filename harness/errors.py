"""The errors a user can act on: the CLI prints their message on one line, no traceback.

``UsageError`` (exit code 2) is bad input: a config, an argument, a path.
``StorageError`` (exit code 1) is a results directory that stopped taking
writes (a full disk, a lost mount): nothing the user typed was wrong, and
every case finished before it is saved. ``ClusterError`` (exit code 1) is a
Dask cluster that went away or could not be reached mid-sweep: the same
promise, continue with ``--resume``.
"""

from __future__ import annotations

from kernels._messages import allowed_list, nearest  # noqa: F401  (one wording for kernels and harness)


class UsageError(Exception):
    """Bad input from the user (config, arguments, paths): one clear line, no traceback."""

    exit_code = 2


class StorageError(Exception):
    """Results could not be written (disk full, I/O error); what was saved before is intact."""

    exit_code = 1


class ClusterError(Exception):
    """The cluster went away or misbehaved mid-sweep; every case finished before it is saved."""

    exit_code = 1
