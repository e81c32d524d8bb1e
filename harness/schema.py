"""What a result row is: its identity, every column with its unit and meaning, the statuses, the file names.

Everything that names a column or builds a key reads it from here: the case
runner that fills a row, the journal that resumes a sweep, the tables, the
comparisons and the plots. README's column table is :func:`markdown_table`
(a test keeps the two in step).

``SCHEMA_VERSION`` is written into ``metadata.json`` and the journal's first
line. Version 1 is every table written before versions were recorded: the
same measurements, with the columns of :data:`ADDED_IN_2` only where a row
happened to have them (they read as missing elsewhere); it loads with a note.
Version 3 added the ``machine`` column; an older table gets it from its
``metadata.json`` when loaded (version 2 loads without a note: nothing is missing).
Version 4 added visits (``timing.visits``): journal rows carry their ``visit``,
and the table pools a row's visits into one, with ``visits`` and
``visit_medians_s``; an older table was measured in one visit and loads as such.
Version 4 also added CNN layers' case columns (:data:`LAYER`); an older table
holds single images and loads with :data:`LAYER_DEFAULTS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from kernels import Problem

SCHEMA_VERSION = 4

# Artefacts of a results directory.
JOURNAL = "journal.jsonl"
TABLE = "results.parquet"
METADATA = "metadata.json"
REPORT = "report.md"
_FIGURES = ("times", "crossover", "winner", "model", "accuracy")
PLOTS = (*(f"{name}.{fmt}" for name in _FIGURES for fmt in ("png", "svg", "pdf")), "regret.png")
RUN_FILES = (JOURNAL, TABLE, METADATA, *PLOTS, REPORT)

STATUSES = {
    "ok": "verified against the reference, then timed",
    "wrong": "output failed the check against the reference (NaN/Inf included); not timed",
    "error": "raised, or crashed its worker process",
    "timeout": "still running after `case_timeout_seconds`; its worker was killed",
    "unavailable": "the backend cannot run here (package or device missing)",
    "unsupported": "the backend does not handle this problem",
    "skipped": "predicted over the time or memory budget; not run",
}


@dataclass(frozen=True)
class Column:
    """One column of the results table: name, unit ('' when none) and meaning."""

    name: str
    unit: str
    meaning: str


# A CNN layer's parts of a case, and their values for one image and one kernel (every row before layers).
LAYER = ("batch", "in_channels", "out_channels", "pass")
LAYER_DEFAULTS = {"batch": 1, "in_channels": 1, "out_channels": 1, "pass": "forward"}
# A case: the problem, the inputs and their seed. Rows of one case share these.
CASE_COLUMNS = (
    "op", "mode", "image_h", "image_w", "kernel_h", "kernel_w", "dtype", "threads", *LAYER, "dist", "seed"
)  # fmt: skip
# Parts of a case the analyses group by: a cost model is fitted per backend and KIND.
KIND = ("op", "mode", "dtype", "threads", *LAYER)
IMAGE_SIZE = ("image_h", "image_w")
KERNEL_SIZE = ("kernel_h", "kernel_w")
INPUTS = ("dist", "seed")
# A row: a case measured by one backend.
IDENTITY = ("backend", "method", "device", *CASE_COLUMNS)
SETUP_COLUMNS = ("compile_s", "plan_s", "alloc_s", "upload_s", "kernel_spectrum_s", "download_s")

_STATUS_TEXT = "; ".join(f"`{name}`: {text}" for name, text in STATUSES.items())

COLUMNS: tuple[Column, ...] = (
    Column("backend", "", "registered name of the backend"),
    Column("method", "", "`direct`, `fft`, `gemm` (im2col + matrix product) or `winograd`"),
    Column("device", "", "`cpu` or `cuda`"),
    Column("op", "", "`corr` (no kernel flip) or `conv` (kernel flipped on every axis)"),
    Column("mode", "", "`full`, `same` or `valid`"),
    Column("image_h", "samples", "image rows (1 for a 1-D signal)"),
    Column("image_w", "samples", "image columns"),
    Column("kernel_h", "samples", "kernel rows (1 for a 1-D kernel)"),
    Column("kernel_w", "samples", "kernel columns"),
    Column("dtype", "", "`float32` or `float64`: inputs, output and arithmetic"),
    Column("threads", "", "CPU threads the backend was given"),
    Column("batch", "", "CNN layer: images per call (B; 1 for one image)"),
    Column("in_channels", "", "CNN layer: maps per image (C), each kernel summed over them"),
    Column("out_channels", "", "CNN layer: filters (K), each of `in_channels` kernels"),
    Column(
        "pass",
        "",
        "CNN layer: `forward` (correlation summed over channels), `backward-data` (gradient for the images) or "
        "`backward-weights` (gradient for the filters)",
    ),
    Column("dist", "", "input distribution: `uniform`, `normal`, `image` or `hdr`"),
    Column("seed", "", "input seed; the inputs are reproducible from it, `dist` and the shapes"),
    Column("options", "", "the backend's options in force, e.g. `planner=FFTW_MEASURE` (empty without)"),
    Column("status", "", _STATUS_TEXT),
    Column("reason", "", "why, for anything but `ok`; for `ok`, notes such as a library that ignores `threads`"),
    Column("compile_s", "s", "JIT compilation (or loading it from the disk cache) in `prepare`"),
    Column("plan_s", "s", "planning in `prepare`: FFT plans; a layer's channel products timed split and not"),
    Column("alloc_s", "s", "buffer allocation in `prepare`"),
    Column("upload_s", "s", "copying the inputs to the GPU in `prepare`"),
    Column(
        "kernel_spectrum_s",
        "s",
        "the kernel's (a layer's filters') transform, computed once in `prepare` (`fftw-cached`, `filters = once`)",
    ),
    Column("download_s", "s", "copying one output back from the GPU"),
    Column("first_call_s", "s", "the first call, the one that was verified"),
    Column("predicted_s", "s", "for `skipped` rows: the predicted time of the case"),
    Column("predicted_bytes", "B", "for `skipped` rows: the predicted memory of the case"),
    Column(
        "cache",
        "",
        "`warm`: calls back to back; `cold`: L2 flushed before every call (GPU rows, `timing.cache`)",
    ),
    Column("loops", "", "calls per timed sample"),
    Column("n", "", "number of timed samples"),
    Column("min_s", "s", "fastest per-call time over the samples"),
    Column("median_s", "s", "median per-call time over the samples"),
    Column("q1_s", "s", "first quartile of the per-call times"),
    Column("q3_s", "s", "third quartile of the per-call times"),
    Column("mean_s", "s", "mean per-call time"),
    Column("std_s", "s", "standard deviation of the per-call times"),
    Column("samples_s", "s", "the per-call time of each sample, all visits' samples in visit order"),
    Column("visits", "", "visits of the sweep to this case (`timing.visits`), spread over the run"),
    Column("visit_medians_s", "s", "each visit's median per-call time; `compare` tests these when both runs have 2+"),
    Column(
        "ci_low_s",
        "s",
        "lower end of the median's distribution-free 95 % confidence interval (of the visit medians, with 2+ visits)",
    ),
    Column("ci_high_s", "s", "upper end of that interval; sampling goes on until it is within `timing.ci_target`"),
    Column("other_cpu_frac", "", "share of all cores that other processes used while the case was sampled"),
    Column("steal_frac", "", "share of all cores the hypervisor stole while the case was sampled"),
    Column(
        "warning",
        "",
        "unstable timing (std >= 10 % of mean), samples shorter than 1 ms, a median not known to `ci_target`, "
        "a machine that was not quiet (others' CPU > 10 %, steal > 5 %), or a GPU that NVML saw throttled",
    ),
    Column("gflops", "GFLOP/s", "direct-equivalent rate, 2·kernel_h·kernel_w·outputs / `median_s`, for every method"),
    Column(
        "peak_fraction",
        "",
        "`gflops` over numpy's matmul rate at the same dtype and threads (CPU rows), or over the GPU's measured "
        "FMA rate (CUDA rows); the rates are in the metadata",
    ),
    Column("fft_h", "samples", "padded transform rows of an FFT backend (per block for `fftw-oa`)"),
    Column("fft_w", "samples", "padded transform columns of an FFT backend"),
    Column("fft_blocks", "", "transforms of that shape per call (1; the block count for `fftw-oa`)"),
    Column("err_max_abs", "", "largest |result − exact| over the exact reference's positions"),
    Column("err_rel_l2", "", "‖result − exact‖₂ / ‖exact‖₂ over those positions"),
    Column("err_max_scaled", "eps", "largest |result − exact| / Σ|f||g|, in units of the dtype's eps"),
    Column("err_positions", "", "output positions the exact reference covered (all, or a sample)"),
    Column("run_id", "", "the run that produced the row"),
    Column(
        "machine",
        "",
        "the machine that measured the row: CPU model, cores and a hash of its fingerprint (CPU, cores, memory, "
        "GPUs, library versions); `metadata.json` holds each machine's fingerprint",
    ),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
# Computed from the other columns (and the machine's peaks) when the table is written.
DERIVED = ("gflops", "peak_fraction")
# Standard columns from version 2 on; version 1 kept them as extras of the rows that had them.
ADDED_IN_2 = (
    "kernel_spectrum_s",
    "download_s",
    "predicted_s",
    "predicted_bytes",
    "cache",
    "ci_low_s",
    "ci_high_s",
    "other_cpu_frac",
    "steal_frac",
)
ADDED_IN_3 = ("machine",)
ADDED_IN_4 = ("visits", "visit_medians_s", *LAYER)
# A journal row's visit (0 for the first visit of its case); the table pools a row's visits.
VISIT = "visit"


def case_identity(problem: Problem, dist: str, seed: int) -> dict:
    """The case columns of a row, from a ``kernels.Problem``, the input distribution and the seed."""
    (image_h, image_w), (kernel_h, kernel_w) = problem.image_shape, problem.kernel_shape
    values = (
        problem.op, problem.mode, image_h, image_w, kernel_h, kernel_w, problem.dtype, problem.threads,
        problem.batch, problem.in_channels, problem.out_channels, problem.pass_,
    )  # fmt: skip
    return {**dict(zip(CASE_COLUMNS, values)), "dist": dist, "seed": seed}


def _layer_value(row, column: str):
    """A layer column of a row, or its single-image value where the row predates layers (missing or NaN)."""
    value = row.get(column)  # dicts and pandas rows alike
    if value is None or (isinstance(value, float) and value != value):
        return LAYER_DEFAULTS[column]
    return value if column == "pass" else int(value)


def row_problem(row) -> Problem:
    """The ``kernels.Problem`` of a row (a dict or a Series): the inverse of :func:`case_identity`."""
    batch, in_channels, out_channels, pass_ = (_layer_value(row, c) for c in LAYER)
    return Problem(
        row["op"],
        row["mode"],
        (int(row["image_h"]), int(row["image_w"])),
        (int(row["kernel_h"]), int(row["kernel_w"])),
        row["dtype"],
        int(row["threads"]),
        batch,
        in_channels,
        out_channels,
        pass_,
    )


def case_key(identity: dict) -> tuple:
    """The key of a case: its case columns, in order, from a row or a :func:`case_identity`.

    A row from before layers (schema 3 and older) has the single-image values of the layer columns.
    """
    return tuple(_layer_value(identity, c) if c in LAYER_DEFAULTS else identity[c] for c in CASE_COLUMNS)


def row_key(row: dict) -> tuple:
    """The key of a journal row: ``(case key, backend, visit)``. A resumed sweep skips the rows whose key it has.

    A row from before visits (schema 3 and older) is visit 0.
    """
    return case_key(row), row["backend"], int(row.get(VISIT, 0))


def markdown_table() -> str:
    """The column table of README's "The results table" section."""
    lines = ["| column | unit | meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.unit} | {c.meaning} |" for c in COLUMNS]
    return "\n".join(lines)


def check_version(version, where: str) -> str:
    """A note for an older schema ('' for the current one).

    Raises
    ------
    ValueError
        For a version newer than this convbench knows, or one that is not a whole number.
    """
    if version is None:
        version = 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{where}: schema_version {version!r} is not a positive whole number")
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"{where}: written with results schema {version}, newer than this convbench's {SCHEMA_VERSION}; "
            "upgrade convbench to read it"
        )
    if version == 1:
        return (
            f"{where}: results schema 1 (written before schema versions were recorded); "
            f"{', '.join(ADDED_IN_2)} read as missing where its rows lack them; {', '.join(ADDED_IN_3)} "
            "comes from its metadata"
        )
    return ""  # version 2 lacks only what its metadata gives (ADDED_IN_3): nothing to warn about
