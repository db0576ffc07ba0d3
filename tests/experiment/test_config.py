"""RunConfig / CompareConfig: keys, grid expansion, parsing and one-line errors."""

import dataclasses

import pytest

from poolstride.errors import PoolstrideError
from poolstride.experiment.config import (
    DEFAULT_VARIANTS,
    CompareConfig,
    RunConfig,
    load_config_file,
    parse_seeds,
)


def test_key_is_stable_and_identifies_the_run():
    a = RunConfig(variant="max", seed=1)
    assert a.key == RunConfig(variant="max", seed=1).key
    assert len(a.key) == 16 and int(a.key, 16) >= 0
    for change in (
        {"variant": "conv"},
        {"seed": 2},
        {"lr": 1e-3},
        {"steps": 10},
        {"dataset": "digits"},
        {"augment": "shift"},
        {"match_reference": "max"},
    ):
        assert dataclasses.replace(a, **change).key != a.key, change
    # execution details do not change what the run is
    for same in ({"device": "cpu"}, {"data_dir": "/tmp/x"}, {"download": True}):
        assert dataclasses.replace(a, **same).key == a.key, same


def test_run_config_round_trips_through_dict():
    cfg = RunConfig(variant="blur-max:filt5", seed=3, steps=None, epochs=4, width=16)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(PoolstrideError, match="unknown run config field 'colour'"):
        RunConfig.from_dict({**cfg.to_dict(), "colour": 1})


def test_grid_expands_variant_major_with_identical_budget():
    grid = CompareConfig(variants=("max", "conv"), seeds=3, steps=77, lr=0.01)
    runs = grid.runs()
    assert [(r.variant, r.seed) for r in runs] == [
        ("max", 0),
        ("max", 1),
        ("max", 2),
        ("conv", 0),
        ("conv", 1),
        ("conv", 2),
    ]
    assert {(r.steps, r.lr, r.batch_size, r.schedule) for r in runs} == {(77, 0.01, 128, "cosine")}
    assert len({r.key for r in runs}) == 6
    assert grid.baseline == "max"
    assert CompareConfig().variants == DEFAULT_VARIANTS and CompareConfig().seeds == (0, 1, 2)


def test_match_reference_is_the_baseline_only_when_matching():
    assert {r.match_reference for r in CompareConfig(variants="max,conv").runs()} == {None}
    grid = CompareConfig(variants="max,conv", baseline="conv", match="params")
    assert {r.match_reference for r in grid.runs()} == {"conv"}


@pytest.mark.parametrize(
    "text, expected", [("3", 3), ("0,4,7", [0, 4, 7]), ("2-5", [2, 3, 4, 5]), (" 1 ", 1), (5, 5)]
)
def test_parse_seeds(text, expected):
    assert parse_seeds(text) == expected


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
        ({"schedule": "cosin"}, "did you mean 'cosine'"),
        ({"augment": "mixup"}, "unknown augment"),
        ({"device": "tpu"}, "unknown device"),
        ({"steps": 0}, "steps must be a positive integer"),
        ({"steps": None, "epochs": None}, "give a training budget"),
        ({"lr": -1.0}, "lr must be > 0"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer"),
        ({"variants": ()}, "variants is empty"),
        ({"variants": "max,max"}, "variants repeat"),
        ({"seeds": 0}, "seeds must be >= 1"),
        ({"seeds": (1, 1)}, "distinct"),
        ({"baseline": "avg", "variants": "max,conv"}, "baseline 'avg' is not among"),
        ({"test": "mannwhitney"}, "unknown test"),
        ({"workers": 0}, "workers must be a positive integer"),
    ],
)
def test_bad_settings_are_one_line_errors(kwargs, match):
    with pytest.raises(PoolstrideError, match=match) as err:
        CompareConfig(**kwargs)
    assert "\n" not in str(err.value)


def test_from_mapping_accepts_dashes_and_strings():
    cfg = CompareConfig.from_mapping(
        {"variants": "max, conv", "seeds": "0-1", "batch-size": 64, "train-size": 500}
    )
    assert cfg.variants == ("max", "conv") and cfg.seeds == (0, 1)
    assert cfg.batch_size == 64 and cfg.train_size == 500
    with pytest.raises(PoolstrideError, match="unknown config key 'batchsize'"):
        CompareConfig.from_mapping({"batchsize": 3})
    with pytest.raises(PoolstrideError, match="cannot read seeds"):
        CompareConfig.from_mapping({"seeds": "a,b"})


def test_load_config_file(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("variants: [max, avg]\nseeds: 2\nsteps: 40\n")
    assert load_config_file(path) == {"variants": ["max", "avg"], "seeds": 2, "steps": 40}
    (tmp_path / "empty.yaml").write_text("")
    assert load_config_file(tmp_path / "empty.yaml") == {}
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(PoolstrideError, match="must hold a mapping"):
        load_config_file(tmp_path / "list.yaml")
    (tmp_path / "bad.yaml").write_text("a: [1,\n")
    with pytest.raises(PoolstrideError, match="cannot parse config file"):
        load_config_file(tmp_path / "bad.yaml")
    with pytest.raises(PoolstrideError, match="config file not found"):
        load_config_file(tmp_path / "missing.yaml")
