"""Sweep configs: TOML files validated in full before anything runs, then expanded to cases.

A config names the backends and the axes of the sweep; every axis takes one value
or a list, and the cases are the Cartesian product. See ``configs/quick.toml``.
"""

from __future__ import annotations

import itertools
import os
import tomllib
from pathlib import Path

from kernels import DTYPES, MODES, OPS, PASSES, Problem, backends

from ..errors import UsageError, allowed_list, nearest
from ..machine.cpu import all_cores
from .cases import (
    CACHE_STATES,
    CLUSTER_MODES,
    JOBQUEUE_SYSTEMS,
    ONE_CASE_PER,
    Case,
    ClusterSettings,
    SweepConfig,
    Timing,
)
from .inputs import DISTRIBUTIONS

TOP_KEYS = ("name", "description", "sweep", "timing", "backend_options", "cluster")
CLUSTER_KEYS = ("address", "mode", "workers", "one_case_per", "jobqueue")
SWEEP_KEYS = (
    "backends",
    "op",
    "mode",
    "dtype",
    "image_size",
    "image_shape",
    "kernel_size",
    "kernel_shape",
    "threads",
    "batch",
    "in_channels",
    "out_channels",
    "pass",
    "layers",
    "dist",
    "seed",
)
# What each table of ``[[sweep.layers]]`` may hold: one layer of a network (a layer set replaces the product of
# sizes and channel counts, which a network's layers are not).
LAYER_KEYS = ("name", "image_size", "image_shape", "kernel_size", "kernel_shape", "in_channels", "out_channels")
_PER_LAYER = ("image_size", "image_shape", "kernel_size", "kernel_shape", "in_channels", "out_channels")
# Input distributions a CNN layer can be drawn from (the others are shaped for one image and one kernel).
LAYER_DISTRIBUTIONS = ("uniform", "normal")
TIMING_KEYS = (
    "samples",
    "warmup",
    "min_sample_seconds",
    "max_case_seconds",
    "case_timeout_seconds",
    "cache",
    "ci_target",
    "max_samples",
    "visits",
)


def load_config(path: str | os.PathLike) -> SweepConfig:
    """Read, validate and expand a TOML sweep config.

    Raises
    ------
    UsageError
        With one line naming the file, the key and what is allowed.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"config file {str(path)!r} does not exist")
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"config file {str(path)!r} is not valid TOML: {exc}") from None
    try:
        return parse_config(raw, default_name=path.stem)
    except UsageError as exc:
        raise UsageError(f"{path}: {exc}") from None


def parse_config(raw: dict, default_name: str = "sweep") -> SweepConfig:
    """Validate a config already read into a dict and expand it to cases."""
    _check_keys(raw, TOP_KEYS, "")
    sweep = raw.get("sweep")
    if not isinstance(sweep, dict):
        raise UsageError("missing [sweep] table; it must list at least 'backends', an image size and a kernel size")
    _check_keys(sweep, SWEEP_KEYS, "sweep.")
    timing_raw = raw.get("timing", {})
    if not isinstance(timing_raw, dict):
        raise UsageError("'timing' must be a table")
    _check_keys(timing_raw, TIMING_KEYS, "timing.")

    names = _strings(sweep, "backends", None)
    known = backends()
    for name in names:
        if name not in known:
            raise UsageError(
                f"sweep.backends: unknown backend {name!r}{nearest(name, known)}; "
                f"known backends are {allowed_list(sorted(known))}"
            )
    ops = _choices(sweep, "op", OPS, "corr")
    modes = _choices(sweep, "mode", MODES, "same")
    dtypes = _choices(sweep, "dtype", DTYPES, "float32")
    dists = _choices(sweep, "dist", DISTRIBUTIONS, "uniform")
    threads = _threads(sweep.get("threads", "all"))
    seed = _integer(sweep.get("seed", 0), "sweep.seed", minimum=0)
    if "layers" in sweep:
        geometry = _layer_set(sweep)
    else:
        geometry = list(
            itertools.product(
                _shapes(sweep, "image_size", "image_shape"),
                _shapes(sweep, "kernel_size", "kernel_shape"),
                _counts(sweep, "in_channels"),
                _counts(sweep, "out_channels"),
            )
        )
    runs = list(itertools.product(_counts(sweep, "batch"), _choices(sweep, "pass", PASSES, "forward")))
    if runs != [(1, "forward")] or any(c * k > 1 for _, _, c, k in geometry):
        for dist in dists:
            if dist not in LAYER_DISTRIBUTIONS:
                raise UsageError(
                    f"sweep.dist: {dist!r} is drawn for one image and one kernel; CNN layers (batch, channels, "
                    f"pass) take {allowed_list(LAYER_DISTRIBUTIONS)}"
                )

    cases = []
    for op, mode, (image, kernel, c, k), dtype, nthreads, (batch, pass_), dist in itertools.product(
        ops, modes, geometry, dtypes, threads, runs, dists
    ):
        if mode == "valid" and (kernel[0] > image[0] or kernel[1] > image[1]):
            raise UsageError(
                f"sweep: kernel {kernel[0]}x{kernel[1]} is larger than image {image[0]}x{image[1]} in mode 'valid'; "
                "drop that kernel size or use mode 'same' or 'full'"
            )
        cases.append(Case(Problem(op, mode, image, kernel, dtype, nthreads, batch, c, k, pass_), dist, seed))

    options = _backend_options(raw.get("backend_options", {}), names, known)
    name = raw.get("name", default_name)
    if not isinstance(name, str) or not name or "/" in name:
        raise UsageError(f"name must be a non-empty string without '/', got {name!r}")
    return SweepConfig(
        name=name,
        backends=tuple(names),
        cases=tuple(cases),
        timing=_timing(timing_raw),
        description=str(raw.get("description", "")),
        source=raw,
        backend_options=options,
        cluster=parse_cluster(raw["cluster"]) if "cluster" in raw else None,
    )


def parse_cluster(raw, address: str | None = None) -> ClusterSettings:
    """Validate a ``[cluster]`` table; ``address`` (from ``--cluster``) overrides its address.

    Raises
    ------
    UsageError
        For an unknown key or value, naming what is allowed.
    """
    if not isinstance(raw, dict):
        raise UsageError("'cluster' must be a table, e.g. [cluster] with address = \"local\"")
    _check_keys(raw, CLUSTER_KEYS, "cluster.")
    address = address if address is not None else raw.get("address")
    if not isinstance(address, str) or not address:
        raise UsageError(
            "cluster.address must be 'local', a scheduler address such as 'tcp://head:8786', "
            f"or a batch system ({allowed_list(JOBQUEUE_SYSTEMS)}), got {address!r}"
        )
    named = ("local", *JOBQUEUE_SYSTEMS)
    if address not in named and ":" not in address:
        raise UsageError(
            f"cluster.address {address!r}{nearest(address, named)} is neither a scheduler address "
            f"('tcp://host:8786', 'host:8786') nor one of {allowed_list(named)}"
        )
    mode = _choices(raw, "mode", CLUSTER_MODES, "spread", "cluster")[0]
    default_per = "worker" if address == "local" else "host"
    one_case_per = _choices(raw, "one_case_per", ONE_CASE_PER, default_per, "cluster")[0]
    workers = _integer(raw.get("workers", 2), "cluster.workers")
    jobqueue = raw.get("jobqueue", {})
    if not isinstance(jobqueue, dict):
        raise UsageError("cluster.jobqueue must be a table of dask-jobqueue arguments (cores, memory, queue...)")
    if jobqueue and address not in JOBQUEUE_SYSTEMS:
        raise UsageError(
            f"cluster.jobqueue is for a batch system ({allowed_list(JOBQUEUE_SYSTEMS)}); address is {address!r}"
        )
    return ClusterSettings(address, mode, workers, one_case_per, dict(jobqueue))


def _backend_options(raw, names: list[str], known: dict) -> dict[str, dict]:
    """Validate ``[backend_options.NAME]`` tables with each backend's ``check_options``."""
    if not isinstance(raw, dict):
        raise UsageError("'backend_options' must be a table of tables, e.g. [backend_options.fftw]")
    out = {}
    for name, options in raw.items():
        if name not in names:
            raise UsageError(f"backend_options.{name}: {name!r} is not in sweep.backends ({allowed_list(names)})")
        if not isinstance(options, dict):
            raise UsageError(f"backend_options.{name} must be a table")
        try:
            known[name].check_options(options)
        except ValueError as exc:
            raise UsageError(f"backend_options.{name}: {exc}") from None
        out[name] = dict(options)
    return out


def _check_keys(table: dict, allowed: tuple[str, ...], prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise UsageError(
                f"unknown key {prefix}{key!r}{nearest(key, allowed)}; allowed keys are {allowed_list(allowed)}"
            )


def _as_list(value) -> list:
    return list(value) if isinstance(value, list) else [value]


def _strings(table: dict, key: str, default, where: str = "sweep") -> list[str]:
    if key not in table:
        if default is None:
            raise UsageError(f"{where}.{key} is required")
        return [default]
    values = _as_list(table[key])
    if not values or not all(isinstance(v, str) for v in values):
        raise UsageError(f"{where}.{key} must be a string or a non-empty list of strings, got {table[key]!r}")
    return values


def _choices(table: dict, key: str, allowed: tuple[str, ...], default: str, where: str = "sweep") -> list[str]:
    values = _strings(table, key, default, where)
    for value in values:
        if value not in allowed:
            raise UsageError(
                f"{where}.{key}: unknown value {value!r}{nearest(value, allowed)}; "
                f"acceptable values are {allowed_list(allowed)}"
            )
    return list(dict.fromkeys(values))


def _integer(value, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{where} must be an integer >= {minimum}, got {value!r}")
    return value


def _layer_set(sweep: dict) -> list[tuple]:
    """``(image, kernel, in_channels, out_channels)`` of each table of ``[[sweep.layers]]``, duplicates dropped."""
    given = [key for key in _PER_LAYER if key in sweep]
    if given:
        raise UsageError(
            f"sweep.{given[0]} cannot stand beside sweep.layers: each layer gives its own sizes and channels"
        )
    layers = sweep["layers"]
    if not isinstance(layers, list) or not layers or not all(isinstance(t, dict) for t in layers):
        raise UsageError("sweep.layers must be an array of tables ([[sweep.layers]]), one per layer")
    out = []
    for number, table in enumerate(layers, 1):
        where = f"sweep.layers[{number}]"
        _check_keys(table, LAYER_KEYS, f"{where}.")
        if "name" in table and not isinstance(table["name"], str):
            raise UsageError(f"{where}.name must be a string, got {table['name']!r}")
        images = _shapes(table, "image_size", "image_shape", where)
        kernels = _shapes(table, "kernel_size", "kernel_shape", where)
        counts = [_integer(table.get(key, 1), f"{where}.{key}") for key in ("in_channels", "out_channels")]
        if len(images) != 1 or len(kernels) != 1:
            raise UsageError(f"{where}: one image size and one kernel size per layer (a layer set is not a product)")
        out.append((images[0], kernels[0], *counts))
    return list(dict.fromkeys(out))


def _counts(table: dict, key: str) -> list[int]:
    """A layer count (``batch``, ``in_channels``, ``out_channels``): a positive integer or a list; 1 if absent."""
    values = _as_list(table.get(key, 1))
    if not values:
        raise UsageError(f"sweep.{key} must be a positive integer or a non-empty list of them")
    return list(dict.fromkeys(_integer(v, f"sweep.{key}") for v in values))


def _shapes(table: dict, size_key: str, shape_key: str, where: str = "sweep") -> list[tuple[int, int]]:
    if (size_key in table) == (shape_key in table):
        raise UsageError(
            f"{where} needs exactly one of {size_key!r} (square sizes) or {shape_key!r} "
            "([rows, cols] or [length] pairs)"
        )
    if size_key in table:
        sizes = [_integer(v, f"{where}.{size_key}") for v in _as_list(table[size_key])]
        return [(n, n) for n in dict.fromkeys(sizes)]
    shapes = []
    for entry in _as_list(table[shape_key]):
        if not isinstance(entry, list) or len(entry) not in (1, 2):
            raise UsageError(f"{where}.{shape_key} entries must be [rows, cols] or [length], got {entry!r}")
        dims = [_integer(v, f"{where}.{shape_key}") for v in entry]
        shapes.append((1, dims[0]) if len(dims) == 1 else (dims[0], dims[1]))
    return list(dict.fromkeys(shapes))


def _threads(value) -> list[int]:
    cores = all_cores()
    out = []
    for v in _as_list(value):
        if v == "all":
            out.append(cores)
        else:
            out.append(_integer(v, "sweep.threads ('all' or a positive integer)"))
    return list(dict.fromkeys(out))


def _timing(raw: dict) -> Timing:
    def number(key: str, default: float, minimum: float) -> float:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise UsageError(f"timing.{key} must be a number >= {minimum}, got {value!r}")
        return float(value)

    samples = _integer(raw.get("samples", Timing.samples), "timing.samples", minimum=5)
    max_samples = _integer(raw.get("max_samples", max(Timing.max_samples, samples)), "timing.max_samples", samples)
    return Timing(
        samples=samples,
        warmup=_integer(raw.get("warmup", Timing.warmup), "timing.warmup", minimum=0),
        min_sample_seconds=number("min_sample_seconds", Timing.min_sample_seconds, 0.0),
        max_case_seconds=number("max_case_seconds", Timing.max_case_seconds, 0.0),
        case_timeout_seconds=number("case_timeout_seconds", Timing.case_timeout_seconds, 0.0),
        cache=_choices(raw, "cache", CACHE_STATES, Timing.cache, "timing")[0],
        ci_target=number("ci_target", Timing.ci_target, 0.0),
        max_samples=max_samples,
        visits=_integer(raw.get("visits", Timing.visits), "timing.visits", minimum=1),
    )
