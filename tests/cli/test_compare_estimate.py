"""`poolstride compare` to a log: the estimate before the grid, --dry-run, plain progress
lines, unwrapped verdicts, threads and load stored with each run, estimate vs actual in the
report."""

import json
import sqlite3

from poolstride.cli import main

TINY = [
    "--dataset",
    "digits",
    "--variants",
    "max,avg",
    "--seeds",
    "2",
    "--steps",
    "8",
    "--batch-size",
    "32",
    "--width",
    "4",
    "--device",
    "cpu",
    "--workers",
    "1",
]


def _run(capsys, *args):
    code = main(["compare", *TINY, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_dry_run_prints_the_plan_and_estimate_and_stores_nothing(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = _run(capsys, "--out", str(out_dir), "--dry-run")
    assert code == 0, out + err
    assert "plan: 4 of 4 runs to train, in 2 tasks" in out
    assert "max seeds 0,1 (seed-fused, ~" in out
    assert "threads per worker: " in out
    assert "estimated " in out and "4 runs × ~" in out
    assert not out_dir.exists()  # nothing trained, nothing stored
    assert "progress:" not in out


def test_a_logged_compare_shows_estimate_progress_and_stores_how_it_ran(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = _run(capsys, "--out", str(out_dir), "--progress-every", "0.05")
    assert code == 0, out + err
    lines = out.splitlines()
    estimate = next(i for i, x in enumerate(lines) if x.startswith("estimated "))
    first_progress = next(i for i, x in enumerate(lines) if x.startswith("progress: "))
    assert estimate < first_progress  # known before the grid starts
    assert any(x.startswith("progress: 4/4 runs |") and "ETA" in x for x in lines)
    # a verdict is one line whatever its length (stdout is not a terminal here)
    verdicts = [x for x in lines if x.startswith("  • ")]
    assert verdicts and all(x.rstrip().endswith(")") for x in verdicts)

    rows = sqlite3.connect(out_dir / "runs.sqlite").execute("SELECT metrics FROM runs")
    for (text,) in rows.fetchall():
        metrics = json.loads(text)
        assert metrics["threads"] >= 1 and metrics["cores"] >= 1
        assert metrics["threads_choice"].startswith(str(metrics["threads"]))
        assert metrics["load_avg"] is None or metrics["load_avg"] >= 0

    timing = json.loads((out_dir / "timing.json").read_text())
    assert timing["estimated_s"] > 0 and timing["actual_s"] > 0
    report = (out_dir / "report.md").read_text()
    assert "Wall time of the last compare that trained: estimated " in report
    assert "Torch threads per run: " in report
    assert "Wall time of the last compare" in (out_dir / "report.html").read_text()

    # resumed: nothing left to train, and the dry run says so
    code, out, _ = _run(capsys, "--out", str(out_dir), "--dry-run")
    assert code == 0 and "plan: 0 of 4 runs to train" in out
    assert "every run is already finished" in out


def test_quiet_prints_no_progress_lines(capsys, tmp_path):
    code, out, err = _run(capsys, "--out", str(tmp_path), "-q", "--progress-every", "0.01")
    assert code == 0, out + err
    assert "progress:" not in out and "estimated " in out


def test_a_bad_interval_is_one_line(capsys, tmp_path):
    code, out, err = _run(capsys, "--out", str(tmp_path), "--progress-every", "0")
    assert code == 2
    assert "progress_every must be a positive number of seconds, got 0" in out + err
    assert "Traceback" not in out + err


def test_no_estimate_starts_at_once_and_cannot_go_with_dry_run(capsys, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = _run(capsys, "--out", str(out_dir), "--no-estimate", "-q")
    assert code == 0, out + err
    assert "estimated " not in out and "threads per worker" not in out
    assert not (out_dir / "timing.json").exists()  # no estimate to set against the actual
    assert (out_dir / "report.html").is_file()
    code, out, err = _run(capsys, "--out", str(out_dir), "--no-estimate", "--dry-run")
    assert code == 2 and "--dry-run prints the estimate" in err and "Traceback" not in err


def test_a_diverging_calibration_leaves_no_estimate_but_the_grid_runs(capsys, tmp_path):
    out_dir = tmp_path / "nan"
    args = ["--out", str(out_dir), "--lr", "1e30", "--optimizer", "sgd", "-q"]
    code, out, err = _run(capsys, *args)
    assert code == 1  # every run diverged: nothing to compare
    assert "no estimate: a calibration step failed" in out
    assert "failed: max seed 0: diverged" in out and "Traceback" not in out + err
