"""`poolstride explain`: output, exit codes, GIF files."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from poolstride.cli import main
from poolstride.explain import walkthrough
from poolstride.explain.animate import INTRO_FRAMES, OUTRO_FRAMES


def run(capsys, *args):
    code = main(["explain", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_default_is_the_seed_example(capsys):
    code, out, err = run(capsys, "--plain")
    assert code == 0, err
    assert "output (2x2):\n   9  2\n   6  3\n" in out
    assert out.count("step ") == 4


def test_input_option_and_backward(capsys):
    code, out, _ = run(
        capsys,
        "max",
        "--matrix",
        "1 3 2 1; 2 9 1 1; 1 3 2 3; 5 6 1 2",
        "--backward",
        "--grad",
        "1 2; 3 4",
        "--plain",
    )
    assert code == 0
    assert "out[1,1] g=4: 4 -> input[2,3]" in out
    assert "input gradient dL/dx (PyTorch autograd)" in out


def test_the_old_spellings_still_work_for_one_release_and_say_so(capsys):
    new = run(capsys, "avg", "--matrix", "1 2 3 4 5", "--stride", "1", "--dilation", "1", "--plain")
    old = run(capsys, "avg", "-i", "1 2 3 4 5", "-s", "1", "-d", "1", "--plain")
    assert new[0] == old[0] == 0 and new[1] == old[1]
    assert "explain --input/-i is now --matrix" in old[2] and "-s is now --stride" in old[2]
    assert "-d is now --dilation" in old[2] and "note:" not in new[2]
    assert (
        run(capsys, "--input", "9 1; 2 3", "--plain")[1]
        == run(capsys, "--matrix", "9 1; 2 3", "--plain")[1]
    )


def test_avg_conv_and_1d(capsys):
    code, out, _ = run(
        capsys,
        "avg",
        "--matrix",
        "1 2 3 4 5 6 7",
        "-k",
        "3",
        "--stride",
        "2",
        "-p",
        "1",
        "--ceil-mode",
        "--no-count-include-pad",
        "--plain",
    )
    assert code == 0 and "(1 + 2) / 2 = 1.5" in out
    code, out, _ = run(
        capsys,
        "conv",
        "-w",
        "1 2 1; 2 4 2; 1 2 1",
        "--stride",
        "1",
        "--matrix",
        "1 1 1 1 1; 1 1 1 1 1; 1 1 1 1 1; 1 1 1 1 1; 1 1 1 1 1",
        "--plain",
    )
    assert code == 0 and "output (3x3):\n   16  16  16\n" in out  # 5x5, f=3, s=1 -> 3x3


@pytest.mark.parametrize(
    "args, message",
    [
        (["--matrix", "1 2; 3"], "ragged rows"),
        (["--matrix", "1 two"], "'two' in row 1 is not a number"),
        (["--stride", "0"], "stride=0 is invalid"),
        (["--kernel", "5"], "larger than the padded input"),
        (["conv", "--kernel-weights", "1 2 3"], "kernel weights have shape 3"),
        (["conv", "--kernel", "3", "--kernel-weights", "1 0; 0 1"], "kernel is 3x3"),
        (["--grad", "1 2 3"], "grad has shape 3"),
        (["pool"], "unknown topic 'pool'"),
        (["shift", "--pattern", "8"], "unknown pattern '8'"),
        (["shift", "--direction", "sideways"], "unknown direction"),
        (["shift", "--backward"], "not 'shift'"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2
    assert err.startswith("error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err + out


def test_bad_input_through_the_console_script_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "poolstride", "explain", "--matrix", "1 2; 3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "ragged rows" in proc.stderr


@pytest.mark.parametrize(
    "args, n_outputs",
    [
        ([], 4),
        (["conv", "-k", "3", "-p", "1", "--backward"], 4),
        (
            [
                "avg",
                "--matrix",
                "1 2 3 4 5 6 7",
                "-k",
                "3",
                "--stride",
                "2",
                "-p",
                "1",
                "--ceil-mode",
            ],
            4,
        ),
        (["max", "--matrix", "1 2; 3 4", "--backward"], 1),
    ],
)
def test_gif_is_animated_with_one_frame_per_output(capsys, tmp_path, args, n_outputs):
    path = tmp_path / "walk.gif"
    code, _, err = run(capsys, *args, "--gif", str(path), "--plain")
    assert code == 0, err
    with Image.open(path) as im:
        assert im.format == "GIF"
        assert im.is_animated
        assert im.n_frames == INTRO_FRAMES + n_outputs + OUTRO_FRAMES
    assert f"({INTRO_FRAMES + n_outputs + OUTRO_FRAMES} frames)" in err


def test_gif_frames_differ_as_the_window_moves(tmp_path):
    path = tmp_path / "w.gif"
    walkthrough().write_gif(path)
    with Image.open(path) as im:
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(im.convert("RGB").tobytes())
    assert len(set(frames)) == len(frames)


def test_shift_command(capsys):
    code, out, _ = run(capsys, "shift", "--plain")
    assert code == 0
    assert 'shift an 8x8 "7" by one pixel right: 12 of 64 input values change' in out
    for label in ("max 2x2, stride 2", "avg 2x2, stride 2", "subsample", "blur-max"):
        assert label in out
    code, out, _ = run(capsys, "shift", "--pattern", "1", "--direction", "down", "--plain")
    assert code == 0 and '8x8 "1"' in out


def test_colour_flag_emits_ansi(capsys):
    code, out, _ = run(capsys, "--color")
    assert code == 0 and "\x1b[" in out


DOCS = Path(__file__).resolve().parents[1] / "docs" / "explain.md"


def doc_examples():
    """(command args, pasted output) of every ``$ poolstride explain ...`` block in the docs."""
    blocks = re.findall(r"```\n\$ poolstride (explain[^\n]*)\n(.*?)```", DOCS.read_text(), re.S)
    return [(shlex.split(cmd), out) for cmd, out in blocks]


@pytest.mark.parametrize("args, pasted", doc_examples())
def test_docs_show_real_output(capsys, args, pasted):
    code = main(args)
    out = capsys.readouterr().out
    assert code == 0
    for chunk in pasted.split("...\n"):  # "..." marks lines left out of the docs
        assert chunk.strip("\n") in out


def test_docs_contain_the_seed_examples():
    text = DOCS.read_text()
    assert "$ poolstride explain --plain" in text and "output (2x2):\n   9  2\n   6  3" in text
    assert "-k 3 --stride 1 --plain" in text and "output (3x3):" in text


def test_html_writes_the_interactive_page(capsys, tmp_path):
    path = tmp_path / "explain.html"
    code, out, err = run(capsys, "avg", "--html", str(path))
    assert code == 0, err
    assert (
        out
        == f"wrote {path} ({path.stat().st_size / 1024:.0f} KB): open it in a browser; it needs no network\n"
    )
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<title>Pooling and stride" in text
    assert '"initial":{"op":"avg"' in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--html", "{tmp}/missing/explain.html"], "folder '{tmp}/missing' does not exist"),
        (["--html", "{tmp}"], "it is a folder"),
        (["shift", "--html", "{tmp}/x.html"], "'shift' cannot be used with it"),
        (["-k", "3", "-p", "1", "--html", "{tmp}/x.html"], "--kernel, --padding cannot be used"),
    ],
)
def test_html_errors_are_one_line_exit_2(capsys, tmp_path, args, message):
    code, out, err = run(capsys, *(a.format(tmp=tmp_path) for a in args))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert message.format(tmp=tmp_path) in err
    assert not (tmp_path / "x.html").exists()
