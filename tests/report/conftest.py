"""Hand-built run stores with the shapes of real ``poolstride compare`` records.

Metric names and structures mirror what :func:`poolstride.experiment.task.execute` stores
(checked against a real tiny run); values are drawn from a seeded generator so a variant's
mean differs from the baseline's by a known effect.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from poolstride.experiment.config import RunConfig
from poolstride.experiment.store import RunRecord, Store

# layer names of the `simple` model's parametrised modules, per variant
LAYERS = {
    "max": ["features.0.0", "features.0.1", "features.1.0", "features.1.1", "head.fc"],
    "conv": [
        "features.0.0",
        "features.0.1",
        "features.0.3.conv",
        "features.1.0",
        "features.1.1",
        "features.1.3.conv",
        "head.fc",
    ],
}


def fake_metrics(
    variant: str, seed: int, effect: float, rng: np.random.Generator, steps: int = 20
) -> dict:
    acc = 0.80 + effect + 0.01 * rng.standard_normal()
    offsets = list(range(-2, 3))
    layers = LAYERS.get(variant, LAYERS["max"])
    return {
        "test_acc": acc,
        "test_loss": 1.0 - acc + 0.02 * rng.standard_normal(),
        "final_train_loss": 0.5,
        "params": 10922 if variant != "conv" else 17194,
        "macs": 160320 if variant != "conv" else 232000,
        "pool_ops": 2400,
        "cost_method": "poolstride.analysis.profile",
        "train_time_s": 1.0 + rng.random(),
        "steps": steps,
        "epochs": 1.0,
        "throughput_sps": 3000.0,
        "peak_memory_mb": 800.0,
        "peak_memory_source": "process_max_rss",
        "shift_consistency_circular": 0.9 + 0.01 * rng.standard_normal(),
        "shift_consistency_crop": 0.88 + 0.01 * rng.standard_normal(),
        "consistency_by_offset": {
            "offsets": offsets,
            "circular": [1.0 if o == 0 else 0.85 + 0.02 * rng.random() for o in offsets],
            "crop": [1.0 if o == 0 else 0.8 + 0.02 * rng.random() for o in offsets],
        },
        "feature_stability": {"features.0.3": 0.5},
        "grad_norm_init": {n: float(0.1 + rng.random()) for n in layers},
        "grad_norm_final": {n: float(0.01 + 0.1 * rng.random()) for n in layers},
        "curve": {
            "step": [5, 10, 15, 20],
            "train_loss": [2.0, 1.5, 1.2, 1.0],
            "lr": [3e-3, 2e-3, 1e-3, 0.0],
            "eval_step": [10, 20],
            "test_acc": [0.5, acc],
            "test_loss": [1.5, 1.0 - acc],
        },
        "device": "cpu",
        "width": None,
        "train_size": 300,
        "test_size": 1000,
        # recorded so the per-layer tables need not load the dataset
        "input_shape": [1, 40],
        "num_classes": 10,
        **fake_speed(variant, seed),
    }


def fake_speed(variant: str, seed: int) -> dict:
    """The step-latency keys of :func:`poolstride.experiment.latency.fastest_step` (1D input:
    contiguous only, pooling kernels on and off); the generator is left alone."""
    by_config = {
        "contiguous, poolstride pooling": 2.0 + 0.1 * seed,
        "contiguous, pytorch pooling": 3.0 + 0.1 * seed,
    }
    kernels = [] if variant == "conv" else [f"{variant} (contiguous): poolstride generated"]
    return {
        "step_ms": min(by_config.values()),
        "step_config": "contiguous, poolstride pooling",
        "step_ms_by_config": by_config,
        "downsampling_kernels": kernels,
    }


def build_store(
    path: Path,
    variants=("max", "conv"),
    seeds=(0, 1, 2),
    effects=None,
    config=None,
    metrics_fn=fake_metrics,
    failed=(),
    write_grid=True,
    **run_fields,
) -> Path:
    """A run directory at ``path`` with one finished record per (variant, seed)."""
    rng = np.random.default_rng(0)
    effects = effects or {}
    with Store(path) as store:
        for i, v in enumerate(variants):
            for s in seeds:
                cfg = dict(RunConfig(seed=s, steps=20, **run_fields).to_dict(), variant=v)
                key = f"{i:02d}{s:02d}" + "0" * 12
                if (v, s) in failed:
                    store.put(
                        RunRecord(
                            key,
                            "failed",
                            cfg,
                            {},
                            reason="diverged: loss nan",
                            started_at=f"2026-01-01T00:{i:02d}:{s:02d}+00:00",
                        )
                    )
                    continue
                store.put(
                    RunRecord(
                        key,
                        "finished",
                        cfg,
                        metrics_fn(v, s, effects.get(v, 0.0), rng),
                        poolstride_version="0.1.0",
                        torch_version="2.14.1",
                        git_hash="abc123",
                        device="cpu",
                        started_at=f"2026-01-01T00:{i:02d}:{s:02d}+00:00",
                        finished_at=f"2026-01-01T01:{i:02d}:{s:02d}+00:00",
                    )
                )
    if write_grid:
        grid = {
            "variants": list(variants),
            "seeds": list(seeds),
            "baseline": variants[0],
            "test": "t",
            **(config or {}),
        }
        (path / "config.yaml").write_text(yaml.safe_dump(grid))
    return path


@pytest.fixture
def run_dir(tmp_path) -> Path:
    """max (baseline) vs conv (2 points worse) vs avg (equal), 3 seeds each."""
    return build_store(
        tmp_path / "run", variants=("max", "conv", "avg"), effects={"conv": -0.02, "avg": 0.0}
    )


@pytest.fixture(scope="session")
def make_run():
    """:func:`build_store`, for tests that need their own variants, seeds or metrics."""
    return build_store
