"""One case in one process: inputs, reference, prepare, verify, then interleaved timing of every backend.

For each backend the case is prepared (untimed), run once and checked against
the float64 reference; only the backends whose output is right are timed, in
interleaved rounds, so machine noise hits them alike. The result is one row
per backend (:mod:`harness.schema`).
"""

from __future__ import annotations

from kernels import get_backend

from ..machine.fingerprint import this_machine
from ..machine.gpu import ThrottleMonitor
from ..machine.state import CpuActivity, noise_warning
from ..plan.cases import Case, Timing
from ..plan.inputs import make_inputs
from .budget import RatePredictor, over_budget
from .exact import exact_error_metrics, exact_reference
from .reference import check_reference, check_result
from .timing import cache_state, calibrate_loops, sample_until_stable, summarize, time_call

# The reason a backend without ``takes_layers`` gives for a layer row.
NO_LAYERS = "computes one image with one kernel, not CNN layers (batches, channels, passes)"


def new_row(case: Case, backend, run_id: str) -> dict:
    """A row's identity (backend, its options, the case) with an empty status, for ``run_case`` to fill."""
    options = ", ".join(f"{k}={v}" for k, v in sorted(backend.options().items()))
    return {
        "backend": backend.name,
        "method": backend.method,
        "device": backend.device,
        **case.identity(),
        "options": options,
        "run_id": run_id,
        "machine": this_machine()[0],
        "status": "",
        "reason": "",
    }


def run_case(
    case: Case, backend_names, timing: Timing, predictor: RatePredictor | None = None, run_id: str = ""
) -> list[dict]:
    """Measure every backend on one case; returns one row per backend."""
    predictor = predictor or RatePredictor()
    problem = case.problem
    rows: dict[str, dict] = {}
    ready: dict[str, object] = {}
    first: dict[str, float] = {}
    ref = None
    image = kernel = None
    for name in backend_names:
        backend = get_backend(name)
        row = rows[name] = new_row(case, backend, run_id)
        ok, reason = backend.available()
        if not ok:
            row.update(status="unavailable", reason=reason)
            continue
        ok, reason = backend.supports(problem) if backend.takes_layers or not problem.is_layer else (False, NO_LAYERS)
        if not ok:
            row.update(status="unsupported", reason=reason)
            continue
        skipped = over_budget(backend, case, timing, predictor)
        if skipped:
            row.update(skipped)
            continue
        if ref is None:
            image, kernel = make_inputs(case)
            ref = check_reference(problem, image, kernel)
            exact = exact_reference(problem, image, kernel, case.seed)
        try:
            prepared = backend.prepare(problem, image, kernel)
            row.update({f"{stage}_s": float(sec) for stage, sec in prepared.setup_seconds.items()})
            if backend.method == "fft":
                count, (fft_h, fft_w) = backend.transforms(problem)
                row.update(fft_h=int(fft_h), fft_w=int(fft_w), fft_blocks=int(count))
            first[name] = time_call(prepared, 1, backend.device, timing.cache)
            output = prepared.result()
            status, reason, metrics = check_result(problem, output, ref)
            if output.shape == ref.shape:  # else a wrong row, with the float64 reference's NaNs
                metrics = exact_error_metrics(output, exact, problem.dtype)
        except Exception as exc:  # a failing backend is a row, not a crashed sweep
            row.update(status="error", reason=f"{type(exc).__name__}: {exc}")
            continue
        row.update(metrics, status=status, reason=reason or prepared.notes, first_call_s=first[name])
        row["cache"] = cache_state(backend.device, timing.cache)
        if status == "ok":
            ready[name] = prepared

    loops = {}
    devices = {name: rows[name]["device"] for name in ready}
    for name, prepared in ready.items():
        for _ in range(timing.warmup):
            time_call(prepared, 1, devices[name], timing.cache)
        estimate = min(first[name], time_call(prepared, 1, devices[name], timing.cache))
        loops[name] = calibrate_loops(estimate, timing.min_sample_seconds)
    monitor = ThrottleMonitor() if "cuda" in devices.values() else None
    after = None if monitor is None or not monitor.active else monitor.after_sample
    activity = CpuActivity()
    samples = sample_until_stable(ready, loops, timing, devices, after, timing.max_case_seconds)
    quiet = activity.measure()
    for name, values in samples.items():
        row = rows[name]
        row.update(summarize(values, loops[name], timing.ci_target), loops=loops[name])
        row.update(quiet, samples_s=[float(v) for v in values])
        throttled = monitor.warning(name, len(values)) if monitor is not None else ""
        row["warning"] = "; ".join(w for w in (row["warning"], throttled, noise_warning(quiet)) if w)
    return list(rows.values())
