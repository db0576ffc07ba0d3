"""``poolstride swap``: change table, formats, saving, and exit code 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from poolstride.cli import main

SMALL = ["--input", "3x32x32"]


def test_dry_run_prints_the_change_table(capsys):
    code = main(["swap", "torchvision:resnet18", "--variant", "blur-max", "--dry-run", *SMALL])
    out = capsys.readouterr().out
    assert code == 0
    assert "torchvision:resnet18 downsampling -> 'blur-max'" in out
    for site in ("conv1", "maxpool", "layer2.0.downsample.0", "layer4.0.conv1"):
        assert site in out
    assert "8 of 8 sites changed" in out


def test_markdown_and_json_formats_with_filters(capsys):
    code = main(
        [
            "swap",
            "torchvision:resnet18",
            "--variant",
            "max",
            "--dry-run",
            *SMALL,
            "--format",
            "markdown",
            "--exclude",
            "*downsample*",
            "--skip-stem",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "| conv1 | Conv2d 3->64 k7 s2 p3 | unchanged (stem) |" in out
    assert "unchanged (excluded)" in out
    code = main(
        [
            "swap",
            "torchvision:squeezenet1_1",
            "--variant",
            "conv:k3",
            "--dry-run",
            *SMALL,
            "--format",
            "json",
            "--num-classes",
            "10",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["totals"]["changed"] == 3  # the 3 max pools; the stem is a conv
    assert data["sites"][1]["path"] == "features.2"
    assert data["sites"][1]["d_params"] == 64 * 64 * 9 + 64  # a new 3x3 conv per max pool


def test_save_writes_a_loadable_swapped_model(tmp_path):
    path = tmp_path / "m.pt"
    code = main(
        [
            "swap",
            "torchvision:resnet18",
            "--variant",
            "avg",
            *SMALL,
            "--num-classes",
            "3",
            "--save",
            str(path),
        ]
    )
    assert code == 0
    model = torch.load(path, weights_only=False).eval()
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 3)
    assert model.layer2[0].conv1.conv.stride == (1, 1)


@pytest.mark.parametrize(
    "args, message",
    [
        (["torchvision:resnet81", "--variant", "max"], "unknown torchvision model 'resnet81'"),
        (["torchvision:resnet18", "--variant", "maxx"], "unknown downsampling kind 'maxx'"),
        (["torchvision:squeezenet1_1", "--variant", "none"], "cannot swap 'features.0'"),
        (["torchvision:squeezenet1_1", "--variant", "max", "--input", "3x16x16"], "'features.8'"),
        (["torchvision:resnet18", "--variant", "max", "--input", "3by32"], "bad input shape"),
        (["torchvision:resnet18", "--variant", "max", "--include", "nothing*"], "match no site"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, args, message):
    code = main(["swap", *args, *([] if "--input" in args else SMALL), "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_subprocess_exit_code_and_no_traceback():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "poolstride",
            "swap",
            "torchvision:squeezenet1_1",
            "--variant",
            "none",
            "--input",
            "3x32x32",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "'features.0'" in result.stderr and "1x3x32x32 -> 1x64x15x15" in result.stderr


def test_to_is_a_hidden_alias_of_variant_with_a_note(capsys):
    args = ["swap", "torchvision:resnet18", "--dry-run", *SMALL, "--format", "json"]
    assert main([*args, "--variant", "blur-max"]) == 0
    new = capsys.readouterr()
    assert main([*args, "--to", "blur-max"]) == 0
    old = capsys.readouterr()
    assert old.out == new.out
    assert "note: swap --to is now --variant" in old.err
    assert "--to" not in main_help(capsys)
    assert main([*args, "--variant", "max", "--to", "avg"]) == 2
    assert "disagree" in capsys.readouterr().err


def main_help(capsys) -> str:
    main(["swap", "--help"])
    text = capsys.readouterr().out
    assert "Examples:" in text and "--variant" in text
    return text


def test_shape_profile_and_swap_help_show_examples(capsys):
    for command in ("shape", "profile", "swap", "models"):
        assert main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert "Examples:" in text and f"poolstride {command} " in text
