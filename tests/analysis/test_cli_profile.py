"""`poolstride profile`: torchvision models by name, specs, --empirical, and errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from poolstride.cli import main


def test_torchvision_model_by_name(capsys):
    assert main(["profile", "torchvision:resnet18", "--input", "3x32x32", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["params"] == 11_689_512
    assert data["totals"]["flops"] == 2 * data["totals"]["macs"]
    assert data["rows"][0]["name"] == "conv1" and data["convention"].startswith("MACs")


def test_table_with_depth_and_empirical(capsys):
    args = ["profile", "conv3-8, max2, conv3-16/2, gap, fc-4", "--input", "3x16x16", "--empirical"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "RF measured" in out and "✓" in out and "✗" not in out
    assert "3 layers: 3 agree" in out
    assert main(["profile", "torchvision:resnet18", "--input", "3x32x32", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "layer3" in out and "layer3.0" not in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["torchvision:resnet19"], "error: unknown torchvision model 'resnet19'"),
        (["conv3-8, mux2", "--input", "3x8x8"], "error: spec item 2 'mux2' at character 9"),
        (
            ["torchvision:resnet18", "--input", "3x8"],
            "error: torchvision:resnet18 does not run on input",
        ),
        (["torchvision:resnet18", "--depth", "0"], "error: --depth 0 is not valid"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, needle, capsys):
    assert main(["profile", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(needle) and err.count("\n") == 1


def test_subprocess_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "poolstride", "profile", "torchvision:nonet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout and proc.stderr.startswith(
        "error: unknown torchvision model"
    )
