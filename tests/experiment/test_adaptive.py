"""--seeds auto: the round loop, its stop reasons, its budget and resuming a killed run.

Training is replaced by a fake ``run_grid`` that stores synthetic accuracies (a fixed
function of variant and seed), so the loop's decisions are tested without any training.
"""

import numpy as np
import pytest

from poolstride.errors import PoolstrideError
from poolstride.experiment import adaptive
from poolstride.experiment.adaptive import run_auto
from poolstride.experiment.config import CompareConfig, make_config, parse_seeds
from poolstride.experiment.results import Results
from poolstride.experiment.store import RunRecord, Store

#: accuracy of (variant, seed): mean and per-seed noise; the baseline noise is shared
TRUE = {"max": 0.97, "same": 0.97, "worse": 0.94, "noisy": 0.97}
NOISE = {"max": 0.0, "same": 0.0005, "worse": 0.002, "noisy": 0.02}


def accuracy(variant, seed):
    rng = np.random.default_rng(1000 * seed + sorted(TRUE).index(variant))
    shared = 0.01 * np.random.default_rng(seed).standard_normal()
    return float(TRUE[variant] + shared + NOISE[variant] * rng.standard_normal())


def metrics(variant, seed):
    acc = accuracy(variant, seed)
    return {
        "test_acc": acc,
        "test_loss": 0.1,
        "shift_consistency_circular": 0.9,
        "shift_consistency_crop": 0.9,
        "train_time_s": 1.0,
        "params": 10,
        "macs": 100,
    }


class FakeGrid:
    """Stores a finished record for every config the store lacks; counts what it trained."""

    def __init__(self, fail_on_call=None, clock=None):
        self.trained = []
        self.calls = 0
        self.fail_on_call = fail_on_call
        self.clock = clock

    def __call__(self, configs, store, **options):
        self.calls += 1
        done = store.finished_keys()
        for i, cfg in enumerate(c for c in configs if c.key not in done):
            if self.fail_on_call == self.calls and i == 1:
                raise KeyboardInterrupt  # killed mid-round: one run of it stored
            store.put(RunRecord(cfg.key, "finished", cfg.to_dict(), metrics(cfg.variant, cfg.seed)))
            self.trained.append((cfg.variant, cfg.seed))
            if self.clock is not None:
                self.clock.now += 60.0
        by_key = {r.key: r for r in store.all_runs()}
        return [by_key[c.key] for c in configs if c.key in by_key]


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def grid(**kw):
    return CompareConfig(variants=("max", "same", "worse", "noisy"), seeds="auto", **kw)


def test_rounds_add_seeds_only_to_undecided_variants(monkeypatch):
    fake = FakeGrid()
    monkeypatch.setattr(adaptive, "run_grid", fake)
    records, res, auto = run_auto(grid(), Store(":memory:"))
    kinds = {v: d.kind for v, d in res.decisions["test_acc"].items()}
    assert kinds == {"same": "equivalent", "worse": "worse", "noisy": "undecided"}
    assert auto.stop == "cap" and auto.reasons == {"noisy": "seed cap reached (10 seeds)"}
    rounds = [r.seeds for r in auto.rounds]
    assert rounds[0] == {"max": 3, "same": 3, "worse": 3, "noisy": 3}
    # each round: +1 seed for the undecided, the baseline follows the largest
    for before, after in zip(rounds, rounds[1:]):
        assert all(after[v] - before[v] in (0, 1) for v in before)
        assert after["max"] == max(after.values())
    seeds = res.seeds_used()
    worse_at = res.decisions["test_acc"]["worse"].decided_at
    assert seeds["worse"] == worse_at < 10 and seeds["noisy"] == seeds["max"] == 10
    assert len(fake.trained) == sum(seeds.values()) == len(records)
    assert len(set(fake.trained)) == len(fake.trained)  # nothing trained twice
    assert res.auto is auto and auto.to_dict()["seeds"] == seeds


def test_results_rebuilt_from_the_store_give_the_same_verdicts(monkeypatch):
    monkeypatch.setattr(adaptive, "run_grid", FakeGrid())
    cfg = grid()
    records, res, _ = run_auto(cfg, Store(":memory:"))
    again = Results.from_records(records, cfg.variants, cfg.baseline, design=res.design)
    assert again.verdict_rows() == res.verdict_rows()


def test_a_killed_auto_run_resumes_where_it_stopped(monkeypatch, tmp_path):
    cfg = grid(out=str(tmp_path))
    monkeypatch.setattr(adaptive, "run_grid", FakeGrid())
    _, whole, _ = run_auto(cfg, Store(":memory:"))

    killed = FakeGrid(fail_on_call=3)
    monkeypatch.setattr(adaptive, "run_grid", killed)
    with pytest.raises(KeyboardInterrupt):
        run_auto(cfg, Store(tmp_path))
    resumed = FakeGrid()
    monkeypatch.setattr(adaptive, "run_grid", resumed)
    _, res, auto = run_auto(cfg, Store(tmp_path))
    assert res.verdict_rows() == whole.verdict_rows()
    assert res.seeds_used() == whole.seeds_used()
    # the resumed run trained only what the killed one had not: nothing twice
    assert not set(killed.trained) & set(resumed.trained)
    assert len(killed.trained) + len(resumed.trained) == sum(whole.seeds_used().values())
    assert auto.rounds[0].trained == 0  # round 1 was found in the store


def test_the_budget_stops_before_a_round_that_would_overrun(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(adaptive, "run_grid", FakeGrid(clock=clock))
    _, res, auto = run_auto(grid(budget=15), Store(":memory:"), clock=clock)
    # 12 runs (12 min) in round 1; a round of 3 more runs would end at 15+ min
    assert auto.stop == "budget" and auto.wall_s <= 15 * 60
    undecided = [v for v, d in res.decisions["test_acc"].items() if not d.decided]
    assert undecided and set(auto.reasons) == set(undecided)
    assert all("time budget reached (15 min)" in r for r in auto.reasons.values())


def test_every_variant_decided_ends_the_loop(monkeypatch):
    monkeypatch.setattr(adaptive, "run_grid", FakeGrid())
    cfg = CompareConfig(variants=("max", "worse"), seeds="auto", max_seeds=6)
    _, res, auto = run_auto(cfg, Store(":memory:"))
    assert auto.stop == "decided" and auto.reasons == {}
    assert res.decisions["test_acc"]["worse"].kind == "worse"
    assert res.design.max_seeds == 6


def test_auto_config_fields():
    assert parse_seeds("auto") == parse_seeds(" AUTO ") == "auto"
    cfg = make_config(None, seeds="auto", max_seeds="6", budget="2.5", margin=0.25)
    assert cfg.auto and cfg.seeds == "auto" and cfg.max_seeds == 6 and cfg.budget == 2.5
    assert cfg.margin == "test_acc=0.25"
    assert [(r.variant, r.seed) for r in cfg.runs()][:3] == [("max", 0), ("max", 1), ("max", 2)]
    assert len(cfg.runs({"max": range(5), "conv": range(2)})) == 7
    assert CompareConfig.from_mapping(cfg.to_dict()) == cfg  # config.yaml round trip
    assert cfg.to_dict()["seeds"] == "auto"
    keyed = make_config(None, margin={"acc": 1, "test_loss": 0.02})
    assert keyed.margin == "test_acc=1,test_loss=0.02"
    assert not make_config(None).auto
    with pytest.raises(PoolstrideError, match="--budget needs --seeds auto"):
        make_config(None, seeds=3, budget=5)


@pytest.mark.parametrize(
    "opts, match",
    [
        ({"max_seeds": 1}, "max_seeds must be an integer >= 2"),
        ({"budget": 0}, "budget must be a positive number"),
        ({"margin": "accuracy=-1"}, "margin for test_acc must be a positive number"),
        ({"margin": "speed=1"}, "unknown margin metric 'speed'"),
    ],
)
def test_bad_auto_fields_are_one_line_errors(opts, match):
    with pytest.raises(PoolstrideError, match=match):
        make_config(None, seeds="auto", **opts)


def test_the_report_reads_what_the_auto_run_did(monkeypatch, tmp_path):
    from poolstride.comparison import config_yaml
    from poolstride.report.run import load_run
    from poolstride.report.tables import auto_lines

    monkeypatch.setattr(adaptive, "run_grid", FakeGrid())
    cfg = grid(out=str(tmp_path), max_seeds=5)
    with Store(tmp_path) as store:
        _, res, auto = run_auto(cfg, store)
    res.save(tmp_path)
    (tmp_path / "config.yaml").write_text(config_yaml(cfg.to_dict()))
    data = load_run(tmp_path)
    assert data.results.design == res.design  # seeds: auto in config.yaml
    assert data.results.verdict_rows() == res.verdict_rows()
    assert data.results.auto.to_dict() == auto.to_dict()
    lines = auto_lines(data.results)
    assert lines[0].startswith("Seeds used (until decided): max 5, same ")
    assert len(lines) == 2 and lines[1].startswith("Undecided:") == bool(auto.reasons)
    assert "--seeds auto --max-seeds 5" in data.command()
