"""``poolstride.compare``: the Python face of ``poolstride compare``.

>>> import poolstride
>>> res = poolstride.compare(variants=["max", "conv"], seeds=3, steps=500)  # doctest: +SKIP
>>> print(res.verdicts[0])                                                  # doctest: +SKIP
conv is 4.3 points less accurate than max (95% CI 3.1–5.5, p=0.002, n=3)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from poolstride.experiment.config import CompareConfig, load_config_file
from poolstride.experiment.results import Results
from poolstride.experiment.runner import run_grid
from poolstride.experiment.store import Store


def compare(
    dataset: str | None = None,
    variants: Any = None,
    seeds: Any = None,
    *,
    config: CompareConfig | Mapping[str, Any] | str | Path | None = None,
    out: str | Path | None = None,
    progress: bool = False,
    console=None,
    **options: Any,
) -> Results:
    """Train every variant over seeds with an identical budget and compare them.

    Args:
        dataset: dataset name (default ``mnist1d``).
        variants: downsampling kinds, a list or ``"max,avg,conv"`` (default
            ``max, avg, conv, subsample, blur-max, none``); the first is the baseline unless
            ``baseline=`` is given.
        seeds: a count (``3`` = seeds 0, 1, 2) or a list of seeds.
        config: a :class:`CompareConfig`, a mapping of its fields, or a YAML file path;
            explicit arguments override it.
        out: run directory: the SQLite store (``runs.sqlite``) and ``results.{json,csv}`` go
            there, and finished runs found there are not run again. ``None``: an in-memory
            store, nothing written.
        progress: show rich progress bars.
        **options: any other :class:`CompareConfig` field (``model``, ``steps``,
            ``batch_size``, ``lr``, ``optimizer``, ``schedule``, ``augment``, ``device``,
            ``train_size``, ``head``, ``match``, ``baseline``, ``test``, ``workers``,
            ``threads``, ...).

    Returns:
        :class:`Results` — per-run records, per-variant means with 95% CIs, and verdicts.

    Raises:
        PoolstrideError: a bad name or setting, found before any training starts.
    """
    cfg = make_config(config, dataset=dataset, variants=variants, seeds=seeds, out=out, **options)
    store = Store(cfg.out) if cfg.out is not None else Store(":memory:")
    try:
        records = run_grid(
            cfg.runs(),
            store,
            workers=cfg.workers,
            threads=cfg.threads,
            backend=cfg.backend,
            address=cfg.address,
            batch_seeds=cfg.batch_seeds,
            channels_last=cfg.channels_last,
            progress=progress,
            console=console,
        )
    finally:
        store.close()
    results = Results.from_records(records, cfg.variants, cfg.baseline, cfg.test)
    if cfg.out is not None:
        save_outputs(results, cfg)
    return results


def save_outputs(results: Results, cfg: CompareConfig) -> Path:
    """Write results.{json,csv}, summary.csv, config.yaml and the HTML/Markdown report.

    Returns the path of ``report.html`` in the run directory ``cfg.out``.
    """
    from poolstride.report import write_report

    results.save(cfg.out)
    (Path(cfg.out) / "config.yaml").write_text(_yaml(cfg.to_dict()))
    # The report reads config.yaml (variant order, baseline, test), so it comes last.
    return write_report(cfg.out)


def make_config(
    config: CompareConfig | Mapping[str, Any] | str | Path | None = None, **overrides: Any
) -> CompareConfig:
    """A CompareConfig from a base (object, mapping or YAML path) plus non-None overrides."""
    if config is None:
        base: dict[str, Any] = {}
    elif isinstance(config, CompareConfig):
        base = config.to_dict()
    elif isinstance(config, Mapping):
        base = dict(config)
    else:
        base = load_config_file(config)
    given = {
        k: (str(v) if isinstance(v, Path) else v) for k, v in overrides.items() if v is not None
    }
    if "epochs" in given and "steps" not in given:
        base["steps"] = None  # an epoch budget replaces the default step budget
    base.update(given)
    return CompareConfig.from_mapping(base)


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return (
        "# the exact grid of this run directory; re-run with "
        "`poolstride compare --config config.yaml`\n" + yaml.safe_dump(data, sort_keys=False)
    )
