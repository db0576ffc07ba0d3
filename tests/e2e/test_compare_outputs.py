"""What `compare` leaves behind for people: the HTML report, TensorBoard logs, notebook view."""

import json

import pytest

import poolstride
from poolstride.cli import main

TINY = ["--steps", "12", "--batch-size", "32", "--train-size", "200", "--device", "cpu"]
TINY += [
    "--no-estimate",
    "-q",
]  # calibration has its own tests (tests/cli/test_compare_estimate.py)


@pytest.mark.slow
def test_compare_ends_with_report_path_and_tensorboard_logs(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code = main(
        [
            "compare",
            "--variants",
            "max,conv",
            "--seeds",
            "1",
            "--tensorboard",
            "--out",
            str(out_dir),
            *TINY,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    report = out_dir / "report.html"
    assert f"report: {report}" in out.replace("\n", "")
    html = report.read_text()
    assert "conv" in html and "max" in html and "<table" in html
    assert (out_dir / "report.md").is_file()
    for variant in ("max", "conv"):
        events = list((out_dir / "tensorboard" / f"{variant}-seed0").glob("events.out.tfevents.*"))
        assert events, f"no TensorBoard events for {variant}"


@pytest.mark.slow
def test_api_results_display_the_report_summary_in_notebooks(tmp_path):
    res = poolstride.compare(
        variants=["max", "avg"],
        seeds=2,
        steps=8,
        batch_size=32,
        train_size=200,
        device="cpu",
        out=tmp_path / "api",
    )
    html = res._repr_html_()
    assert "avg" in html and "max" in html
    assert any(v.split(" (")[0][:20] in html for v in res.verdicts)
    assert (tmp_path / "api" / "report.html").is_file()
    # without --tensorboard nothing is logged
    assert not (tmp_path / "api" / "tensorboard").exists()


@pytest.mark.slow
def test_compare_a_torchvision_model_with_swapped_downsampling(tmp_path, capsys):
    out_dir = tmp_path / "zoo"
    code = main(
        [
            "compare",
            "--model",
            "torchvision:resnet18",
            "--dataset",
            "digits",
            "--variants",
            "original,blur-max",
            "--seeds",
            "1",
            "--steps",
            "3",
            "--batch-size",
            "16",
            "--out",
            str(out_dir),
            "--device",
            "cpu",
            "-q",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "original" in out and "blur-max" in out
    runs = json.loads((out_dir / "results.json").read_text())["runs"]
    params = {r["config"]["variant"]: r["metrics"]["params"] for r in runs}
    # blur-max keeps resnet18's weights; its strided convs run at stride 1 + blur-pool
    assert params["original"] == params["blur-max"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--model", "torchvision:resnet1800"], "resnet1800"),
        (["--model", "torchvision:resnet18", "--width", "8"], "--width 8"),
    ],
)
def test_zoo_model_mistakes_are_one_line_exit_2(args, needle, capsys, tmp_path):
    code = main(["compare", *args, "--dataset", "digits", "--out", str(tmp_path / "x"), *TINY])
    out, err = capsys.readouterr()
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err
