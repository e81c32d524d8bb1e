import json

import pandas as pd

from harness.cli import main
from harness.present.report import markdown_table, write_report
from harness.schema import REPORT, SCHEMA_VERSION
from tests.harness.synthetic import direct_law, fft_law, synthetic_run


def test_markdown_table_formats_and_escapes():
    frame = pd.DataFrame({"a": [1.23456, float("nan")], "b": ["x|y", None]})
    text = markdown_table(frame, {"a": "A", "b": "B"})
    assert text.splitlines() == ["| A | B |", "|---|---|", "| 1.23 | x\\|y |", "| - | - |"]


def test_report_has_machine_crossovers_models_and_plots(tmp_path):
    laws = {
        "numba-cpu": ("direct", direct_law),
        "opencv": ("direct", lambda p: 2 * direct_law(p)),
        "fftw": ("fft", fft_law),
    }
    frame = synthetic_run([64, 128, 256], [3, 7, 15, 31], laws=laws)
    frame.loc[len(frame)] = {**frame.iloc[0].to_dict(), "backend": "numpy-fft", "status": "wrong", "reason": "off by 1"}
    frame.to_parquet(tmp_path / "results.parquet")
    (tmp_path / "metadata.json").write_text(
        '{"config_name": "synthetic", "run_id": "r1", "schema_version": 2,'
        ' "machine": {"cpu_model": "Test CPU", "usable_cores": 2},'
        ' "matmul_gflops": {"float32": {"2": 200.0}}}'
    )
    path = write_report(tmp_path)
    assert path == tmp_path / REPORT and path.is_file()
    text = path.read_text()
    for needle in (
        "# convbench report: synthetic",
        "Test CPU, 2 usable cores",
        "matmul peak, float32: 200 GFLOP/s on 2 threads",
        "## Crossover",
        "predicted n*",
        "Per (direct, FFT) pair:",
        "## Cost models",
        "a * n^2 * outputs + b",
        "c * P log2 P + d",
        "n^2 N^2",
        "## Rows that did not count",
        "off by 1",
    ):
        assert needle in text, needle
    for name in ("times", "crossover", "winner", "model"):
        assert f"![{name}]({name}.png)" in text
        assert (tmp_path / f"{name}.png").stat().st_size > 1000


def test_cli_report(tmp_path, capsys):
    synthetic_run([64, 128], [3, 31]).to_parquet(tmp_path / "results.parquet")
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "report.md").exists() and "report.md" in capsys.readouterr().out


def test_a_journal_alone_is_reported_as_an_unfinished_run(tmp_path):
    """No table or metadata: the report says the sweep stopped, and claims neither file."""
    rows = synthetic_run([64, 128], [3, 31]).assign(run_id="r7", machine="x86-64-16c-abc")
    with open(tmp_path / "journal.jsonl", "w") as journal:
        journal.write(json.dumps({"convbench_journal": {"schema_version": 4}}) + "\n")
        for row in rows.to_dict("records"):
            journal.write(json.dumps(row, default=str) + "\n")
    text = write_report(tmp_path).read_text()
    assert "**Unfinished run** (r7)" in text and "x86-64-16c-abc" in text and "--resume" in text
    assert "Table: `results.parquet`" not in text and "## Machine" not in text and "## Crossover" in text


def test_an_interrupted_run_says_not_every_case_ran(tmp_path):
    synthetic_run([64, 128], [3, 31]).to_parquet(tmp_path / "results.parquet")
    meta = {"run_id": "r1", "schema_version": SCHEMA_VERSION, "interrupted": True, "terminated": True}
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    text = write_report(tmp_path).read_text()
    assert "**Not every case ran:** a SIGTERM ended it" in text
