"""`poolstride compare` speed options end to end: --workers, --backend, --address,
--batch-seeds/--no-batch-seeds, --channels-last, --amp (bad values: one line, exit 2)."""

import json
import sqlite3

import pytest

from poolstride.cli import main
from poolstride.experiment.config import RunConfig

TINY = [
    "--no-estimate",  # calibration has its own tests (tests/cli/test_compare_estimate.py)
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
    "-q",
]


def _run(capsys, *args):
    code = main(["compare", *args])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--backend", "spark"], "spark"),
        (["--address", "127.0.0.1:6379"], "needs --backend ray"),
        (["--amp", "fp16"], "fp16"),
        (["--workers", "0"], "workers must be a positive integer"),
    ],
)
def test_bad_speed_options_are_one_line_errors(capsys, tmp_path, args, message):
    code, text = _run(capsys, *TINY, "--out", str(tmp_path), *args)
    assert code == 2 and message in text and "Traceback" not in text


def _rows(out_dir):
    rows = (
        sqlite3.connect(out_dir / "runs.sqlite")
        .execute("SELECT key, status, config, metrics FROM runs")
        .fetchall()
    )
    return [(k, s, json.loads(c), json.loads(m)) for k, s, c, m in rows]


def test_batched_seeds_and_bf16_land_in_the_store(capsys, tmp_path):
    code, text = _run(
        capsys, *TINY, "--workers", "1", "--batch-seeds", "--out", str(tmp_path / "a")
    )
    assert code == 0, text
    rows = _rows(tmp_path / "a")
    assert len(rows) == 4 and {r[1] for r in rows} == {"finished"}
    assert {r[3]["batched_seeds"] for r in rows} == {2}

    code, text = _run(
        capsys,
        *TINY,
        "--workers",
        "1",
        "--no-batch-seeds",
        "--amp",
        "bf16",
        "--out",
        str(tmp_path / "a"),
    )
    assert code == 0, text
    rows = _rows(tmp_path / "a")  # bf16 runs are new runs (amp is part of the identity)
    assert len(rows) == 8
    bf16 = [r for r in rows if r[2].get("amp") == "bf16"]
    assert len(bf16) == 4 and {r[3]["batched_seeds"] for r in bf16} == {1}
    assert {r[3]["amp"] for r in bf16} == {"bf16"}


def test_amp_none_keeps_the_run_keys_of_earlier_versions():
    cfg = RunConfig()
    assert "amp" not in cfg.identity()
    assert RunConfig(amp="bf16").key != cfg.key
