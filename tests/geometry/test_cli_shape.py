"""`poolstride shape`: the table, the warnings, and exit code 2 without traceback on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from poolstride.cli import main


def test_issue_example(capsys):
    assert main(["shape", "conv3-96, conv3-96, max2, conv3-192/2, gap", "--input", "3x32x32"]) == 0
    out = capsys.readouterr().out
    for text in (
        "1 conv3-96",
        "1×96×32×32",
        "3 max2",
        "1×96×16×16",
        "1×192×8×8",
        "166,080",
        "Convention:",
    ):
        assert text in out


def test_json_rows_and_lint(capsys):
    assert (
        main(["shape", "conv3-8, conv1-8/2, max2, gap", "--input", "3x17x17", "--format", "json"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in data["rows"]}
    assert rows["2 conv1-8/2"]["warnings"] == [
        "kernel 1 with stride 2 keeps 1 of every 4 activations: 3/4 are discarded"
    ]
    assert rows["3 max2"]["output_shape"] == [1, 8, 4, 4]
    assert rows["3 max2"]["receptive_field"] == {
        "size": [5, 5],
        "jump": [4, 4],
        "start": [1, 1],
        "exact": True,
    }
    assert data["totals"]["params"] == (3 * 9 + 1) * 8 + (8 + 1) * 8


def test_one_dimensional_markdown(capsys):
    assert (
        main(
            [
                "shape",
                "conv5-16, blur-max:filt5, gmp, fc-10",
                "--input",
                "1x40",
                "--format",
                "markdown",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "| 2 blur-max:filt5 | blur-max:filt5 | 1×16×20 |" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["conv3-96, mux2", "--input", "3x32x32"],
            "error: spec item 2 'mux2' at character 10: expected a layer",
        ),
        (
            ["max2, max2, max2", "--input", "3x4x4"],
            "error: spec item 3 'max2' at character 12: max pool: output size 0 < 1",
        ),
        (["max2", "--input", "3x4x4x4x4"], "error: input shape '3x4x4x4x4' is not valid"),
    ],
)
def test_bad_input_exits_2_with_one_line(args, needle, capsys):
    assert main(["shape", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(needle) and err.count("\n") == 1


def test_subprocess_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "poolstride", "shape", "conv3-8, max9", "--input", "3x8x8"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.startswith("error: spec item 2 'max9' at character 9:")
