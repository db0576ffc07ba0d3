"""The reproduce command rebuilds exactly the stored grid (same run keys)."""

from __future__ import annotations

import shlex

from hypothesis import given, settings
from hypothesis import strategies as st

from poolstride.cli.compare import compare as compare_command
from poolstride.experiment.config import CompareConfig, make_config
from poolstride.experiment.store import RunRecord
from poolstride.report.run import reproduce_command, reproduce_options


def _records(cfg: CompareConfig) -> list[RunRecord]:
    return [RunRecord(r.key, "finished", r.to_dict(), {"test_acc": 0.5}) for r in cfg.runs()]


def _parse(command: str) -> CompareConfig:
    """What `poolstride compare` would build from ``command`` (its own option parsing)."""
    args = shlex.split(command.split("  #")[0])
    assert args[:2] == ["poolstride", "compare"]
    ctx = compare_command.make_context("compare", args[2:])
    params = {k: v for k, v in ctx.params.items() if v is not None}
    params.pop("config_file", None)
    params.pop("quiet", None)
    params.pop("dry_run", None)
    params.pop("no_estimate", None)
    params.pop("out", None)
    if "seeds" in params:
        from poolstride.experiment.config import parse_seeds

        params["seeds"] = parse_seeds(params["seeds"])
    return make_config(None, **params)


grids = st.fixed_dictionaries(
    {
        "variants": st.lists(
            st.sampled_from(["max", "avg", "conv", "conv:k3", "blur-max:filt5", "none"]),
            min_size=1,
            max_size=4,
            unique=True,
        ),
        "seeds": st.one_of(
            st.integers(1, 4), st.lists(st.integers(0, 50), min_size=1, max_size=3, unique=True)
        ),
    },
    optional={
        "steps": st.integers(1, 3000),
        "lr": st.floats(1e-5, 1.0),
        "batch_size": st.integers(1, 512),
        "optimizer": st.sampled_from(["adam", "sgd"]),
        "schedule": st.sampled_from(["cosine", "step", "constant"]),
        "augment": st.sampled_from(["none", "shift", "flip"]),
        "train_size": st.integers(10, 4000),
        "width": st.integers(4, 64),
        "match": st.sampled_from(["none", "params"]),
        "test": st.sampled_from(["t", "wilcoxon"]),
        "weight_decay": st.floats(0, 0.1),
        "dataset": st.sampled_from(["mnist1d", "digits"]),
    },
)


@settings(max_examples=40)
@given(grids, st.data())
def test_command_rebuilds_the_same_runs(grid, data):
    cfg = CompareConfig.from_mapping(grid)
    baseline = data.draw(st.sampled_from(cfg.variants))
    cfg = cfg.replace(baseline=baseline)
    records = _records(cfg)
    command = reproduce_command(records, cfg.baseline, cfg.test, None, cfg.variants)
    rebuilt = _parse(command)
    assert [r.key for r in rebuilt.runs()] == [r.key for r in cfg.runs()]
    assert rebuilt.baseline == cfg.baseline and rebuilt.test == cfg.test


def test_defaults_give_the_short_command():
    cfg = CompareConfig()
    command = reproduce_command(_records(cfg), cfg.baseline, cfg.test, None, cfg.variants)
    assert command == "poolstride compare --variants max,avg,conv,subsample,blur-max,none --seeds 3"
    assert reproduce_options(_records(cfg)) == {"variants": list(cfg.variants), "seeds": [0, 1, 2]}


def test_fields_without_a_flag_point_to_the_config_file(tmp_path):
    cfg = CompareConfig(variants=("max", "conv"), seeds=2, max_shift=2)
    records = _records(cfg)
    assert "max_shift=2" in reproduce_command(records, "max", "t", None, cfg.variants)
    (tmp_path / "config.yaml").write_text("max_shift: 2\n")
    assert reproduce_command(records, "max", "t", tmp_path, cfg.variants) == (
        f"poolstride compare --config {tmp_path / 'config.yaml'} --out {tmp_path}"
    )
