"""``poolstride reproduce``: the study list, and bad input as one line with exit code 2."""

from __future__ import annotations

import pytest

from poolstride.cli import main
from poolstride.reproduce.registry import STUDIES


def test_list_shows_every_study_with_cpu_and_gpu_estimates(capsys):
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    for name, study in STUDIES.items():
        assert f"{name}: {study.title}" in out
    assert out.count("2-core CPU") == sum(len(s.budgets) for s in STUDIES.values())
    assert "one GPU" in out
    assert "needs cifar10" in out
    assert "3 grids; 64 px: --data an image folder)" in out  # resnet-stem's cpu budget


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["reproduce", "no-such-study"], "unknown study 'no-such-study'"),
        (["reproduce"], "give a study name"),
        (["reproduce", "allcnn", "--list"], "--list takes no study name"),
        (["reproduce", "allcnn"], "--download"),
        (["reproduce", "allcnn", "--data", "{tmp}/missing"], "is not a directory"),
        (["reproduce", "mnist1d-pooling", "--download"], "generates its own data"),
        (["reproduce", "mnist1d-pooling", "--budget", "huge"], "--budget"),
        (["reproduce", "mnist1d-pooling", "--seeds", "many"], "cannot read seeds"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, needle, capsys, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert needle in err
