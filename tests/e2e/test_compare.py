"""`poolstride compare` end to end: real data, real models, tiny budgets.

The slow tests train for real (a few dozen steps on MNIST-1D / scikit-learn digits) and
check what a user sees: the table, the verdicts, the files, resume, and failures. The bad-input
tests check that every mistake is one line, exit code 2, before any training.
"""

import json
import sqlite3
import subprocess
import sys

import pytest

from poolstride.cli import main

FAST = ["--steps", "20", "--batch-size", "32", "--train-size", "200", "--device", "cpu"]
FAST += [
    "--no-estimate",
    "-q",
]  # calibration has its own tests (tests/cli/test_compare_estimate.py)


def _run(capsys, *args):
    code = main(["compare", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_compare_prints_table_verdicts_and_resumes(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code, out, err = _run(
        capsys, "--variants", "max,conv", "--seeds", "2", "--out", str(out_dir), *FAST[:-1]
    )  # with progress (not -q)
    assert code == 0, err
    assert "done max          seed 1: test acc" in out  # one line per finished run
    assert "mean ± 95% CI over seeds (n=2); baseline: max; margin ±0.5 points" in out
    assert "Verdicts vs max:" in out and "Paired by seed against max." in out
    assert "conv" in out and "n=2)" in out
    for name in ("runs.sqlite", "results.json", "results.csv", "summary.csv", "config.yaml"):
        assert (out_dir / name).is_file(), name
    rows = (
        sqlite3.connect(out_dir / "runs.sqlite")
        .execute("SELECT status, config, metrics, torch_version FROM runs")
        .fetchall()
    )
    assert len(rows) == 4 and {r[0] for r in rows} == {"finished"}
    config = json.loads(rows[0][1])
    assert config["dataset"] == "mnist1d" and config["steps"] == 20 and config["train_size"] == 200
    assert 0.0 <= json.loads(rows[0][2])["test_acc"] <= 1.0

    # the same command again: every run is found finished in the store and skipped
    code, out, _ = _run(
        capsys, "--variants", "max,conv", "--seeds", "2", "--out", str(out_dir), *FAST[:-1]
    )
    assert code == 0 and "resuming: 4 of 4 runs already finished" in out
    assert "done " not in out


@pytest.mark.slow
def test_compare_2d_digits_from_yaml_with_override_and_two_workers(tmp_path, capsys):
    cfg = tmp_path / "grid.yaml"
    cfg.write_text(
        "dataset: digits\nvariants: [avg, blur-max]\nseeds: 2\nsteps: 500\n"
        "augment: shift+flip\nmax-shift: 1\ndepth: 2\n"
    )
    code, out, err = _run(
        capsys,
        "--config",
        str(cfg),
        "--steps",
        "15",
        "--workers",
        "2",
        "--out",
        str(tmp_path / "d"),
        "--device",
        "cpu",
        "-q",
    )
    assert code == 0, err
    data = json.loads((tmp_path / "d" / "results.json").read_text())
    assert data["variants"] == ["avg", "blur-max"] and data["baseline"] == "avg"
    runs = data["runs"]
    assert len(runs) == 4 and all(r["status"] == "finished" for r in runs)
    assert {r["config"]["steps"] for r in runs} == {15}  # the command line wins over the file
    assert {r["config"]["augment"] for r in runs} == {"shift+flip"}
    assert runs[0]["metrics"]["curve"]["step"][-1] == 15


@pytest.mark.slow
def test_diverging_runs_are_marked_failed(tmp_path, capsys):
    code, out, err = _run(
        capsys,
        "--variants",
        "max",
        "--seeds",
        "1",
        "--lr",
        "1e30",
        "--optimizer",
        "sgd",
        "--out",
        str(tmp_path / "nan"),
        *FAST,
        "--steps",
        "60",
    )
    assert code == 1  # nothing finished: nothing to compare
    assert "failed: max seed 0: diverged: training loss became nan" in out
    assert "none of the 1 runs finished" in err and "Traceback" not in out + err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "mnist2d"], "error: unknown dataset 'mnist2d'"),
        (["--model", "resnet99"], "error: unknown model 'resnet99'"),
        (["--variants", "max,strided"], "error: unknown downsampling kind 'strided'"),
        (["--dataset", "folder:/nonexistent/poolstride/images"], "/nonexistent/poolstride/images"),
        (["--seeds", "x"], "error: cannot read seeds 'x'"),
        (["--baseline", "avg", "--variants", "max,conv"], "error: baseline 'avg' is not among"),
        (["--config", "/nonexistent/grid.yaml"], "error: config file not found"),
        (["--dataset", "digits", "--depth", "5"], "error: "),
    ],
)
def test_bad_input_is_one_line_exit_2_before_training(tmp_path, capsys, args, message):
    code, out, err = _run(capsys, *args, "--out", str(tmp_path / "bad"), *FAST)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out
    assert "done " not in out  # nothing trained


def test_dataset_needing_download_fails_without_network(tmp_path, capsys):
    code, _, err = _run(
        capsys,
        "--dataset",
        "cifar10",
        "--data-dir",
        str(tmp_path / "none"),
        "--out",
        str(tmp_path / "c"),
        *FAST,
    )
    assert code == 2 and err.startswith("error: ") and "download" in err
    assert len(err.strip().splitlines()) == 1


def test_help_lists_every_option():
    proc = subprocess.run(
        [sys.executable, "-m", "poolstride", "compare", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    for option in (
        "--dataset",
        "--model",
        "--variants",
        "--seeds",
        "--steps",
        "--batch-size",
        "--lr",
        "--device",
        "--out",
        "--train-size",
        "--match",
        "--head",
        "--baseline",
        "--workers",
        "--config",
        "--augment",
        "--test",
    ):
        assert option in proc.stdout, option


@pytest.mark.slow
def test_seeds_auto_reports_seeds_wall_time_and_resumes(tmp_path, capsys):
    out_dir = tmp_path / "auto"
    args = ["--variants", "max,none", "--seeds", "auto", "--max-seeds", "4"]
    code, out, err = _run(capsys, *args, "--out", str(out_dir), *FAST)
    assert code == 0, err
    out = " ".join(out.split())  # the console wraps at 80 columns
    assert "seeds auto (3 to start, up to 4)" in out
    assert "Seeds used (until decided): max " in out and "wall time" in out
    assert ("Every test-accuracy comparison is decided." in out) or (
        "Undecided: none (seed cap reached (4 seeds)" in out
    )
    saved = json.loads((out_dir / "results.json").read_text())
    assert saved["auto"]["max_seeds"] == 4 and saved["design"]["max_seeds"] == 4
    assert {r["metric"] for r in saved["decisions"]} >= {"test_acc", "test_loss"}
    assert "seeds: auto" in (out_dir / "config.yaml").read_text()
    # again: every round is found in the store, nothing is trained, the verdicts are the same
    code, again, _ = _run(capsys, *args, "--out", str(out_dir), *FAST)
    assert code == 0
    assert json.loads((out_dir / "results.json").read_text())["decisions"] == saved["decisions"]
    assert json.loads((out_dir / "results.json").read_text())["auto"]["rounds"][0]["trained"] == 0
