"""Plots drawn from a stored results table (never from live objects).

Figures are ``matplotlib.figure.Figure`` objects saved straight to files:
nothing here touches pyplot or the process's matplotlib backend, so a
notebook that imports convbench keeps its own.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.cm
import matplotlib.colors
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from kernels import PASSES

from ..analyse.crossovers import GROUP, crossover_curve, crossovers, fit_crossover_constant, predicted_crossover
from ..analyse.derived import ok_rows, with_sizes
from ..analyse.layer_models import LAYER_SHAPE, crossover_surface, fit_layer_models, is_layer, layer_rows, layer_winners
from ..analyse.models import case_medians, fit_models, kind_of, row_work
from ..schema import KIND
from .style import FORMATS, backend_colour, seconds_axis

_SERIES_AXES = [*KIND, "dist"]


def _varying(frame: pd.DataFrame, columns) -> list[str]:
    return [c for c in columns if c in frame and frame[c].nunique() > 1]


def _label(row, columns) -> str:
    return " ".join(str(row[c]) if c != "threads" else f"{row[c]}t" for c in columns)


# Line styles of the runs overlaid by `convbench plot A B` (a frame with a "run" column).
_RUN_STYLES = ("-", "--", ":", "-.")


def _runs(frame: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    """``[(run label, its rows)]``: the runs of an overlay, or ``[(None, frame)]`` for one run."""
    if "run" not in frame:
        return [(None, frame)]
    return [(run, part) for run, part in frame.groupby("run", sort=False)]


def _run_style(frame: pd.DataFrame, run) -> str:
    labels = [label for label, _ in _runs(frame)]
    return _RUN_STYLES[labels.index(run) % len(_RUN_STYLES)] if run is not None else "-"


def plot_times(frame: pd.DataFrame, path: str | Path, title: str = "", formats=("png",)) -> Path:
    """Median time vs kernel size (log-log), one panel per image size, one line per backend.

    The band around each line spans the first to third quartile of the samples.
    With a ``run`` column (an overlay of runs), each run has its own line style.
    """
    ok = ok_rows(frame)
    if ok.empty:
        raise ValueError("no successful rows to plot")
    images = sorted(ok.groupby(["image_h", "image_w"]).groups)
    cols = min(3, len(images))
    rows = math.ceil(len(images) / cols)
    fig = Figure(figsize=(4.6 * cols, 3.6 * rows))
    axes = fig.subplots(rows, cols, squeeze=False, sharey=False)
    series = ["backend"] + _varying(ok, ["run", *_SERIES_AXES])
    for ax, (h, w) in zip(axes.flat, images):
        part = ok[(ok["image_h"] == h) & (ok["image_w"] == w)]
        for _, line in part.groupby(series):
            line = line.sort_values("kernel_n")
            first = line.iloc[0]
            label = _label(first, series)
            colour = backend_colour(first["backend"])
            style = _run_style(ok, first["run"] if "run" in first else None)
            ax.plot(line["kernel_n"], line["median_s"], style, marker="o", ms=3, label=label, color=colour)
            ax.fill_between(line["kernel_n"], line["q1_s"], line["q3_s"], alpha=0.2, color=colour)
        ax.set_xscale("log")
        ax.set_yscale("log")
        _kernel_ticks(ax, part["kernel_n"])
        ax.set_title(f"image {h}x{w}" if h > 1 else f"signal length {w}", fontsize=10)
        ax.set_xlabel("kernel size n")
        ax.set_ylabel("median time per call")
        seconds_axis(ax.yaxis)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(images) :]:
        ax.set_visible(False)
    return _finish(fig, path, title, formats)


def plot_crossover(frame: pd.DataFrame, path: str | Path, title: str = "", formats=("png",)) -> Path:
    """For each image size N, the smallest kernel size n at which FFT beats direct.

    Measured crossovers (interpolated between sweep points) are points. Two curves per group: the crossover that the
    fitted cost models predict (dashed), and the textbook curve
    ``n^2 N^2 = c N^2 log2 N`` with ``c`` fitted through the measured points
    (solid). Image sizes where FFT already wins at the smallest kernel are drawn
    as open triangles at that size (an upper bound), and those where direct wins
    throughout as open triangles at the largest (a lower bound).
    """
    models_by_run, tables = {}, []
    for run, part in _runs(frame):
        models_by_run[run] = fit_models(part)
        tables.append(crossovers(part, models_by_run[run]).assign(run=run))
    table = pd.concat(tables, ignore_index=True)
    fig = Figure(figsize=(6.4, 4.6))
    ax = fig.subplots()
    if table.empty:
        ax.text(0.5, 0.5, "no case had both a direct and an FFT result", ha="center", transform=ax.transAxes)
    else:
        series = _varying(table, ["run", *[c for c in GROUP if c not in ("image_h", "image_w")]])
        kernel_n = with_sizes(frame)["kernel_n"]
        smallest, largest = kernel_n.min(), kernel_n.max()
        for i, (_, part) in enumerate(table.groupby(series) if series else [((), table)]):
            colour = f"C{i}"
            label = _label(part.iloc[0], series) if series else "best FFT vs best direct"
            inside = part[part["bracketed"]]
            measured = f"{label}: measured (interpolated; bars span the sweep points either side)"
            below = inside["crossover_interp"] - inside["n_below"]
            above_point = inside["crossover_n"] - inside["crossover_interp"]
            ax.errorbar(
                inside["image_n"], inside["crossover_interp"], yerr=[below, above_point], fmt="o", color=colour,
                capsize=3, label=measured,
            )  # fmt: skip
            above = part[~part["bracketed"] & part["crossover_n"].notna()]
            ax.plot(above["image_n"], above["crossover_n"], "v", mfc="none", color=colour)
            never = part[part["crossover_n"].isna()]
            ax.plot(never["image_n"], [largest] * len(never), "^", mfc="none", color=colour)
            _plot_model_crossover(ax, models_by_run[part["run"].iloc[0]], part, colour, label, (smallest, largest))
            c = fit_crossover_constant(inside["image_n"], inside["crossover_interp"])
            if np.isfinite(c):
                grid = np.geomspace(max(part["image_n"].min(), 2), part["image_n"].max(), 100)
                ax.plot(
                    grid,
                    crossover_curve(c, grid),
                    "-",
                    color=colour,
                    label=f"{label}: textbook $n^2 = {c:.3g}\\,\\log_2 N$",
                )
        ax.set_xscale("log", base=2)
        ax.legend(fontsize=7, loc="best")
    ax.set_xlabel("image size N (N x N)")
    ax.set_ylabel("crossover kernel size n (FFT faster from here)")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title or "where $n^2 N^2$ meets $N^2 \\log N$")
    fig.tight_layout()
    return _save(fig, path, formats)


def _plot_model_crossover(ax, models, part, colour, label, kernel_range) -> None:
    """The crossover the fitted cost models predict, on a grid of image sizes between the measured ones."""
    key = kind_of(part.iloc[0])
    group = [m for m in models if m.kind == key]
    one_d = bool((part["image_h"] == 1).all())
    sizes = np.unique(np.geomspace(part["image_n"].min(), part["image_n"].max(), 24).round().astype(int))
    predicted = [
        predicted_crossover(
            [m for m in group if m.method == "direct"],
            [m for m in group if m.method == "fft"],
            (1, int(n)) if one_d else (int(n), int(n)),
            kernel_range,
        )
        for n in sizes
    ]
    if np.isfinite(predicted).any():
        ax.plot(sizes, predicted, "--", color=colour, label=f"{label}: cost models")


def plot_winner(frame: pd.DataFrame, path: str | Path, title: str = "", formats=("png",)) -> Path:
    """Which backend is fastest at each (image size, kernel size), and by how much.

    One panel per (op, mode, dtype, threads). Cell colour is the winning
    backend; the label is its margin, the runner-up's time over the winner's.
    """
    cases = case_medians(frame)
    if cases.empty:
        raise ValueError("no successful rows to plot")
    groups = list(cases.groupby(list(KIND), sort=True))
    fig = Figure(figsize=(6.0 * len(groups), 4.8))
    axes = fig.subplots(1, len(groups), squeeze=False)
    for ax, (key, part) in zip(axes[0], groups):
        op, mode, dtype, threads = key[:4]
        images = sorted(part["image_n"].unique())
        kernels = sorted(part["kernel_n"].unique())
        for (image_n, kernel_n), cell in part.groupby(["image_n", "kernel_n"]):
            times = cell.sort_values("median_s")
            x, y = kernels.index(kernel_n), images.index(image_n)
            winner = backend_colour(times["backend"].iloc[0])
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, color=winner, alpha=0.75))
            if len(times) > 1:
                margin = times["median_s"].iloc[1] / times["median_s"].iloc[0]
                ax.text(
                    x, y, f"{margin:.1f}x" if margin < 10 else f"{margin:.0f}x", ha="center", va="center", fontsize=7
                )
        _size_grid(ax, kernels, images, f"{op} {mode} {dtype}, {threads} threads")
        winners = sorted(set(part.loc[part.groupby(["image_n", "kernel_n"])["median_s"].idxmin(), "backend"]))
        handles = [Rectangle((0, 0), 1, 1, color=backend_colour(w), alpha=0.75) for w in winners]
        ax.legend(handles, winners, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="fastest")
    fig.suptitle((title + ": " if title else "") + "fastest backend; label = runner-up time / winner time")
    fig.tight_layout()
    return _save(fig, path, formats)


def plot_model(frame: pd.DataFrame, path: str | Path, title: str = "", formats=("png",)) -> Path:
    """Measured time against the cost model's work, one line per backend (straight when the model holds).

    Work is ``n^2 * outputs`` for direct backends and ``P log2 P`` for FFT
    backends; the lines are the fitted ``t = slope * work + intercept``.
    """
    cases = case_medians(frame)
    if cases.empty:
        raise ValueError("no successful rows to plot")
    cases["work"] = row_work(cases)
    models = {(m.backend, *m.kind): m for m in fit_models(frame)}
    groups = list(cases.groupby(list(KIND), sort=True))
    fig = Figure(figsize=(6.0 * len(groups), 4.8))
    axes = fig.subplots(1, len(groups), squeeze=False)
    for ax, (key, part) in zip(axes[0], groups):
        op, mode, dtype, threads = key[:4]
        for backend, points in part.groupby("backend"):
            model = models[(backend, *kind_of(points.iloc[0]))]
            colour = backend_colour(backend)
            ax.plot(points["work"], points["median_s"], "o", ms=3, color=colour)
            grid = np.geomspace(points["work"].min(), points["work"].max(), 100)
            ax.plot(
                grid,
                model.slope * grid + model.intercept,
                "-",
                color=colour,
                label=f"{backend}: {model.formula}, rms {100 * model.rms_rel:.0f}%",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("work: $n^2$ x outputs (direct), $P \\log_2 P$ (FFT)")
        ax.set_ylabel("median time per call")
        seconds_axis(ax.yaxis)
        ax.set_title(f"{op} {mode} {dtype}, {threads} threads", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    return _finish(fig, path, title, formats)


def plot_accuracy(frame: pd.DataFrame, path: str | Path, title: str = "", formats=("png",)) -> Path:
    """Measured errors against the textbook lines, from the exact-reference columns.

    Left: worst error scaled by (|f| * |g|) in units of eps, vs kernel size n at
    the largest image, with direct summation's worst case n^2 and typical n.
    Middle: relative L2 error in eps vs image size N at the largest kernel, with
    the FFT's eps log2 N (relative to the global norm). Right: the left panel
    for high-dynamic-range inputs, where an error relative to the global norm
    is huge next to the faint outputs.
    """
    ok = ok_rows(frame[frame["err_max_scaled"].notna()])
    if ok.empty:
        raise ValueError("no successful rows with exact-reference errors to plot")
    ok["eps"] = ok["dtype"].map(lambda d: float(np.finfo(d).eps))
    ok["rel_eps"] = ok["err_rel_l2"] / ok["eps"]
    dists = [d for d in ("uniform", "hdr") if d in set(ok["dist"])] or [ok["dist"].iloc[0]]
    panels = [("kernel", dists[0]), ("image", dists[0])] + [("kernel", d) for d in dists[1:]]
    fig = Figure(figsize=(5.2 * len(panels), 4.2))
    axes = fig.subplots(1, len(panels), squeeze=False)
    markers = {"float32": "o", "float64": "s"}
    for ax, (axis, dist) in zip(axes[0], panels):
        part = ok[ok["dist"] == dist]
        if axis == "kernel":
            part = part[part["image_n"] == part["image_n"].max()]
            x, y, label = "kernel_n", "err_max_scaled", f"max |error| / (|f|*|g|) [eps], {dist} inputs"
            grid = np.geomspace(part[x].min(), part[x].max(), 50)
            ax.plot(grid, grid**2, "k--", lw=1, label="direct, worst case: $n^2$")
            ax.plot(grid, grid, "k:", lw=1, label="direct, typical: $n$")
            ax.set_title(f"image {int(part['image_n'].max())}, {dist}", fontsize=10)
        else:
            part = part[part["kernel_n"] == part["kernel_n"].max()]
            x, y, label = "image_n", "rel_eps", f"relative L2 error [eps], {dist} inputs"
            grid = np.geomspace(part[x].min(), part[x].max(), 50)
            ax.plot(grid, np.log2(grid), "k-.", lw=1, label="FFT: $\\log_2 N$")
            ax.set_title(f"kernel {int(part['kernel_n'].max())}, {dist}", fontsize=10)
        for (backend, dtype), line in part.groupby(["backend", "dtype"]):
            line = line.sort_values(x)
            ax.plot(
                line[x],
                line[y].clip(lower=1e-3),
                marker=markers.get(dtype, "o"),
                ms=4,
                color=backend_colour(backend),
                label=f"{backend} {dtype}",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        if axis == "kernel":
            _kernel_ticks(ax, part["kernel_n"])
        ax.set_xlabel("kernel size n" if axis == "kernel" else "image size N")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    return _finish(fig, path, title, formats)


def plot_all(frame: pd.DataFrame, out_dir: str | Path, title: str = "", formats=("png",)) -> list[Path]:
    """Write ``times``, ``crossover``, ``winner``, ``model`` and, with exact-reference errors, ``accuracy``.

    Each in every one of ``formats`` (``png``, ``svg``, ``pdf``); returns the first format's paths.
    A table of several machines (``convbench merge``) gets ``machines-times`` and
    ``machines-crossover`` with the machines side by side, and each machine's own
    set under ``machines/<machine>/``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    machines = frame["machine"].dropna().unique() if "machine" in frame else []
    if len(machines) > 1:
        parts = {str(m): part for m, part in frame.groupby("machine", sort=True)}
        paths = plot_overlay(parts, out_dir, formats, prefix="machines")
        for machine, part in parts.items():
            if (part["status"] == "ok").any():
                paths += plot_all(part, out_dir / "machines" / machine, f"{title} on {machine}", formats)
        return paths
    layers = layer_rows(frame)
    paths = []
    if not layers.empty:  # a layer set: its winners and the crossover surface, not size grids of one layer each
        paths += [
            plot_layer_winners(layers, out_dir / "layers-winner.png", title, formats),
            plot_layer_crossover(layers, out_dir / "layers-crossover.png", title, formats),
        ]
        frame = frame[~is_layer(frame)]
        if not (frame["status"] == "ok").any():
            return paths
    paths += [
        plot_times(frame, out_dir / "times.png", title, formats),
        plot_crossover(frame, out_dir / "crossover.png", title, formats),
        plot_winner(frame, out_dir / "winner.png", title, formats),
        plot_model(frame, out_dir / "model.png", title, formats),
    ]
    if "err_max_scaled" in frame and frame["err_max_scaled"].notna().any():
        paths.append(plot_accuracy(frame, out_dir / "accuracy.png", title, formats))
    return paths


def _layer_label(layer: dict) -> str:
    n = f"{layer['kernel_h']}x{layer['kernel_w']}"
    return f"{layer['in_channels']}->{layer['out_channels']} {layer['image_h']}x{layer['image_w']} {n}"


def plot_layer_winners(rows: pd.DataFrame, path: str | Path, title: str = "", formats=("png",)) -> Path:
    """The fastest backend of each layer of a set, per pass and batch, and by how much.

    ``rows``: :func:`~harness.analyse.layer_models.layer_rows`. One row of
    cells per layer, one column per (pass, batch); colour is the winner, the
    label its margin (the runner-up's time over the winner's).
    """
    winners = layer_winners(rows)
    layers = winners[LAYER_SHAPE].drop_duplicates()
    layers = layers.sort_values(["kernel_h", "image_h", "in_channels", "out_channels"]).to_dict("records")
    columns = {(p, int(b)) for p, b in zip(winners["pass"], winners["batch"])}
    columns = sorted(columns, key=lambda c: (PASSES.index(c[0]), c[1]))
    fig = Figure(figsize=(2.2 + 0.75 * len(columns), 1.2 + 0.32 * len(layers)))
    ax = fig.subplots()
    for record in winners.to_dict("records"):
        y = next(i for i, layer in enumerate(layers) if all(record[k] == v for k, v in layer.items()))
        x = columns.index((record["pass"], int(record["batch"])))
        ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, color=backend_colour(record["winner"]), alpha=0.75))
        if np.isfinite(record["margin"]):
            ax.text(x, y, f"{record['margin']:.2f}x", ha="center", va="center", fontsize=6)
    ax.set_xlim(-0.5, len(columns) - 0.5)
    ax.set_ylim(len(layers) - 0.5, -0.5)
    ax.set_xticks(range(len(columns)), [f"{p.replace('-', chr(10))}\nB={b}" for p, b in columns], fontsize=6)
    ax.set_yticks(range(len(layers)), [_layer_label(layer) for layer in layers], fontsize=6)
    names = sorted(winners["winner"].unique())
    handles = [Rectangle((0, 0), 1, 1, color=backend_colour(n), alpha=0.75) for n in names]
    ax.legend(handles, names, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="fastest")
    ax.set_ylabel("layer: C->K, image, kernel")
    return _finish(fig, path, (title + ": " if title else "") + "fastest per layer; label = runner-up / winner")


# The grid of the crossover surface: square kernels and channel counts (C = K).
SURFACE_KERNELS = (1, 3, 5, 7, 9, 11)
SURFACE_CHANNELS = (4, 8, 16, 32, 64, 128, 256, 512)


def plot_layer_crossover(rows: pd.DataFrame, path: str | Path, title: str = "", formats=("png",)) -> Path:
    """The crossover surface in kernel size and channels: the backend the layer models predict fastest.

    One panel per pass, at the set's most common image size and its largest
    batch; C = K. The models (:mod:`harness.analyse.layer_models`) are fitted on
    every layer of the run, so cells far from the measured layers are
    extrapolations: the measured layers are marked with dots.
    """
    models = fit_layer_models(rows)
    image = int(rows["image_h"].mode().iloc[0])
    batch = int(rows["batch"].max())
    kind = {k: rows[k].iloc[0] for k in ("op", "mode", "dtype")} | {"threads": int(rows["threads"].iloc[0])}
    passes = [p for p in PASSES if p in set(rows["pass"])]
    fig = Figure(figsize=(4.2 * len(passes) + 1.2, 4.0))
    axes = fig.subplots(1, len(passes), squeeze=False)[0]
    names = set()
    for ax, pass_ in zip(axes, passes):
        surface = crossover_surface(models, image, batch, pass_, SURFACE_KERNELS, SURFACE_CHANNELS, **kind)
        for cell in surface.to_dict("records"):
            x, y = SURFACE_CHANNELS.index(cell["channels"]), SURFACE_KERNELS.index(cell["kernel_n"])
            names.add(cell["winner"])
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, color=backend_colour(cell["winner"]), alpha=0.75))
            if np.isfinite(cell["margin"]):
                ax.text(x, y, f"{cell['margin']:.1f}", ha="center", va="center", fontsize=6)
        measured = rows[(rows["pass"] == pass_) & (rows["in_channels"] == rows["out_channels"])]
        for c, n in set(zip(measured["in_channels"], measured["kernel_h"])):
            if c in SURFACE_CHANNELS and n in SURFACE_KERNELS:
                ax.plot(SURFACE_CHANNELS.index(c) + 0.3, SURFACE_KERNELS.index(n) - 0.3, "k.", markersize=4)
        ax.set_xlim(-0.5, len(SURFACE_CHANNELS) - 0.5)
        ax.set_ylim(-0.5, len(SURFACE_KERNELS) - 0.5)
        ax.set_xticks(range(len(SURFACE_CHANNELS)), [str(c) for c in SURFACE_CHANNELS], fontsize=7)
        ax.set_yticks(range(len(SURFACE_KERNELS)), [f"{n}x{n}" for n in SURFACE_KERNELS], fontsize=7)
        ax.set_xlabel("channels C = K")
        ax.set_ylabel("kernel")
        ax.set_title(f"{pass_}, B={batch}, {image}x{image}", fontsize=9)
    names = sorted(names)
    handles = [Rectangle((0, 0), 1, 1, color=backend_colour(n), alpha=0.75) for n in names]
    axes[-1].legend(handles, names, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="predicted fastest")
    heading = "predicted fastest by the layer models; label = runner-up / winner; dots: measured layers"
    return _finish(fig, path, (title + ": " if title else "") + heading)


def _size_grid(ax, kernels, images, title: str) -> None:
    """Axes of a map over kernel size (x) and image size (y), one cell per measured size."""
    ax.set_xlim(-0.5, len(kernels) - 0.5)
    ax.set_ylim(-0.5, len(images) - 0.5)
    ax.set_xticks(range(len(kernels)), [f"{k:g}" for k in kernels])
    ax.set_yticks(range(len(images)), [f"{i:g}" for i in images])
    ax.set_xlabel("kernel size n")
    ax.set_ylabel("image size N")
    ax.set_title(title, fontsize=10)


def _kernel_ticks(ax, kernel_n) -> None:
    """Label the measured kernel sizes themselves instead of log-scale mantissas."""
    sizes = sorted(set(np.round(kernel_n, 2)))
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(sizes))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def _finish(fig, path, title: str, formats=("png",)) -> Path:
    """Title (if any), tight layout, save."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path, formats)


def _save(fig: Figure, path, formats=("png",)) -> Path:
    """Save ``fig`` as ``path`` in each format (vector formats beside the PNG); returns the first."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown plot format {unknown[0]!r}; acceptable: {', '.join(FORMATS)}")
    paths = [Path(path).with_suffix(f".{fmt}") for fmt in formats]
    for target in paths:
        fig.savefig(target, dpi=110)
    return paths[0]


def plot_overlay(
    frames: dict[str, pd.DataFrame], out_dir: str | Path, formats=("png",), prefix: str = "overlay"
) -> list[Path]:
    """``overlay-times`` and ``overlay-crossover``: several runs (or machines) on one figure, a line style each."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = pd.concat([f.assign(run=label) for label, f in frames.items()], ignore_index=True)
    title = " vs ".join(frames)
    return [
        plot_times(frame, out_dir / f"{prefix}-times.png", title, formats),
        plot_crossover(frame, out_dir / f"{prefix}-crossover.png", title, formats),
    ]


def plot_regret(scores: pd.DataFrame, path: str | Path, title: str = "", formats=("png",)) -> Path:
    """convbench's regret over image x kernel size: colour is the regret, the label the pick (M: measured).

    One panel per (op, mode, dtype, threads); white is regret 1 (the fastest picked).
    """
    if scores.empty:
        raise ValueError("no validation cases to plot")
    scores = with_sizes(scores)
    groups = list(scores.groupby(list(KIND), sort=True))
    fig = Figure(figsize=(6.4 * len(groups), 4.8))
    axes = fig.subplots(1, len(groups), squeeze=False)
    norm = matplotlib.colors.LogNorm(vmin=1.0, vmax=max(2.0, float(scores["convbench: regret"].max())))
    cmap = matplotlib.colormaps["Reds"]
    for ax, (key, part) in zip(axes[0], groups):
        op, mode, dtype, threads = key[:4]
        images = sorted(part["image_n"].unique())
        kernels = sorted(part["kernel_n"].unique())
        for r in part.to_dict("records"):
            x, y = kernels.index(r["kernel_n"]), images.index(r["image_n"])
            regret = r["convbench: regret"]
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, color=cmap(norm(regret))))
            label = f"{regret:.2f}\n{r['convbench: pick']}{' (M)' if r['measured'] else ''}"
            ax.text(x, y, label, ha="center", va="center", fontsize=6)
        _size_grid(ax, kernels, images, f"{op} {mode} {dtype}, {threads} threads")
        fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="regret")
    return _finish(fig, path, title or "chooser regret: time of the pick / time of the fastest", formats)
