"""Synthetic results for the reproduce tests: store records made by hand, no training."""

from __future__ import annotations

from poolstride.experiment.results import Results
from poolstride.experiment.store import RunRecord


def fake_results(acc: dict[str, list[float]], baseline: str | None = None) -> Results:
    """Results whose ``variant`` has test accuracy ``acc[variant][seed]`` (fractions)."""
    records = [
        RunRecord(
            key=f"{variant}-{seed}",
            status="finished",
            config={"variant": variant, "seed": seed},
            metrics={"test_acc": value},
        )
        for variant, values in acc.items()
        for seed, value in enumerate(values)
    ]
    return Results.from_records(records, list(acc), baseline or next(iter(acc)))
