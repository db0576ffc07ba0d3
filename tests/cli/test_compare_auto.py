"""`poolstride compare --seeds auto --max-seeds N --budget M --margin ...` reach the config."""

import pytest

from poolstride.cli import main


@pytest.fixture
def captured(monkeypatch):
    """Replace the comparison with a stub that records the config it was given."""
    import poolstride.comparison as comparison

    seen = {}

    def fake(cfg, **_kw):
        seen["cfg"] = cfg
        raise SystemExit(0)

    monkeypatch.setattr(comparison, "run_comparison", fake)
    return seen


def test_seeds_auto_with_cap_budget_and_margin(captured, tmp_path, capsys):
    args = ["compare", "--seeds", "auto", "--max-seeds", "6", "--budget", "2.5"]
    args += ["--margin", "test_acc=1,loss=0.02", "--out", str(tmp_path), "-q"]
    with pytest.raises(SystemExit):
        main(args)
    cfg = captured["cfg"]
    assert cfg.auto and cfg.seeds == "auto" and cfg.max_seeds == 6 and cfg.budget == 2.5
    assert cfg.margin == "test_acc=1,loss=0.02"
    assert "seeds auto (3 to start, up to 6, budget 2.5 min)" in capsys.readouterr().out


def test_a_bare_margin_is_test_accuracy_in_points(captured, tmp_path):
    with pytest.raises(SystemExit):
        main(["compare", "--margin", "0.25", "--out", str(tmp_path), "-q"])
    cfg = captured["cfg"]
    assert not cfg.auto and cfg.seeds == (0, 1, 2) and cfg.margin == "0.25"
    from poolstride.experiment.results import margins_of

    assert margins_of(cfg.margin)["test_acc"] == pytest.approx(0.0025)
    assert margins_of(cfg.margin)["test_loss"] == 0.01  # the default stays


@pytest.mark.parametrize(
    "args, message",
    [
        (["--seeds", "auto", "--max-seeds", "1"], "max_seeds must be an integer >= 2"),
        (["--margin", "speed=1"], "unknown margin metric 'speed'"),
        (["--margin", "acc=0"], "margin for test_acc must be a positive number"),
        (["--seeds", "auto", "--budget", "-3"], "budget must be a positive number"),
    ],
)
def test_bad_values_are_one_line_errors(captured, tmp_path, capsys, args, message):
    code = main(["compare", *args, "--out", str(tmp_path), "-q"])
    assert code == 2 and "cfg" not in captured
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
