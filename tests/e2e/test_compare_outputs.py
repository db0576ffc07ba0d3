"""What `compare` leaves behind for people: the HTML report, TensorBoard logs, notebook view."""

import pytest

import poolstride
from poolstride.cli import main

TINY = ["--steps", "12", "--batch-size", "32", "--train-size", "200", "--device", "cpu", "-q"]


@pytest.mark.slow
def test_compare_ends_with_report_path_and_tensorboard_logs(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code = main(["compare", "--variants", "max,conv", "--seeds", "1", "--tensorboard",
                 "--out", str(out_dir), *TINY])
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
    res = poolstride.compare(variants=["max", "avg"], seeds=2, steps=8, batch_size=32,
                             train_size=200, device="cpu", out=tmp_path / "api")
    html = res._repr_html_()
    assert "avg" in html and "max" in html
    assert any(v.split(" (")[0][:20] in html for v in res.verdicts)
    assert (tmp_path / "api" / "report.html").is_file()
    # without --tensorboard nothing is logged
    assert not (tmp_path / "api" / "tensorboard").exists()
