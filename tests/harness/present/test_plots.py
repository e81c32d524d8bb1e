from harness.present.plots import plot_all, plot_overlay, plot_regret
from harness.present.style import BACKEND_COLOURS, backend_colour, format_seconds
from tests.harness.synthetic import synthetic_run


def test_a_backend_keeps_its_colour_in_every_run():
    assert backend_colour("fftw") == BACKEND_COLOURS["fftw"]
    assert len(set(BACKEND_COLOURS.values())) == len(BACKEND_COLOURS)  # no two built-ins alike
    assert backend_colour("some-plugin") == backend_colour("some-plugin")  # stable for unknown names too


def test_time_ticks_carry_units():
    assert [format_seconds(v) for v in (2.0, 1.5e-3, 2e-5, 3e-9)] == ["2 s", "1.5 ms", "20 µs", "3 ns"]


def test_vector_formats_beside_png(tmp_path):
    paths = plot_all(synthetic_run([64, 128], [3, 31]), tmp_path, formats=("png", "svg", "pdf"))
    assert paths[0] == tmp_path / "times.png"
    for name in ("times", "crossover", "winner", "model"):
        assert (tmp_path / f"{name}.svg").read_text().lstrip().startswith("<?xml")
        assert (tmp_path / f"{name}.pdf").read_bytes().startswith(b"%PDF")


def test_overlay_of_two_runs(tmp_path):
    a = synthetic_run([64, 128, 256], [3, 15, 31])
    b = synthetic_run([64, 128, 256], [3, 15, 31], seed=1)
    paths = plot_overlay({"machine-a": a, "machine-b": b}, tmp_path)
    assert [p.name for p in paths] == ["overlay-times.png", "overlay-crossover.png"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_regret_map(tmp_path):
    from harness.analyse.regret import validate_choices

    scores = validate_choices(synthetic_run([64, 256], [3, 31]), synthetic_run([96, 192], [5, 21], seed=1))
    assert plot_regret(scores, tmp_path / "regret.png").stat().st_size > 1000
