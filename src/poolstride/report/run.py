"""What a report shows, read from a run directory's store.

:func:`load_run` reads ``RUN_DIR/runs.sqlite`` (the only source of numbers) and summarises it
with the statistics of :mod:`poolstride.experiment.stats` through
:class:`~poolstride.experiment.results.Results` — the same means, 95% CIs, Holm-corrected
paired tests and verdict sentences that ``poolstride compare`` prints. The variant order,
baseline and test come from ``RUN_DIR/config.yaml`` (written by ``compare``) when it is
there; otherwise the variants are taken in the order they were run and the first is the
baseline.

Nothing here trains anything. Per-layer tables (:func:`layer_profiles`) rebuild each variant's
*untrained* model from its stored config (shapes, parameters and receptive fields do not
depend on the weights) and profile it with :func:`poolstride.analysis.profile`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from poolstride.analysis.profile_table import profile
from poolstride.data import load_dataset
from poolstride.errors import PoolstrideError
from poolstride.experiment.adaptive import auto_from_dict
from poolstride.experiment.config import CompareConfig, RunConfig, cli_options, dataset_options
from poolstride.experiment.estimate import read_timing
from poolstride.experiment.results import Results, verdict_options
from poolstride.experiment.store import STORE_FILENAME, RunRecord, Store
from poolstride.experiment.workload import build_for

# Per-run fields that `poolstride compare` takes as flags (field -> flag), from the fields'
# own declarations (switches such as --download are written separately).
_FLAGS = {name: how.flag_of(name) for name, _, how in cli_options(RunConfig) if how.switch is None}
# Per-run fields that are not options of the grid (set by the grid itself).
_PER_RUN = {"variant", "seed", "match_reference"}


@dataclass
class RunData:
    """A run directory, read: records, their statistics and provenance.

    Attributes:
        name: the run's name (the run directory's name).
        run_dir: where it was read from (``None`` for in-memory records).
        records: every stored run, finished and failed.
        results: per-variant summaries (mean, 95% CI, n) and verdicts over finished runs.
        grid: the run directory's ``config.yaml`` (the grid as ``compare`` saved it:
            variants, seeds, baseline, test, ...), or ``{}`` when there is none.
        timing: the run directory's ``timing.json`` (``estimated_s``, ``actual_s``: the wall
            time estimated before the grid and measured), or ``{}``.
    """

    name: str
    run_dir: Path | None
    records: list[RunRecord]
    results: Results
    grid: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)

    @property
    def variants(self) -> tuple[str, ...]:
        return self.results.variants

    @property
    def baseline(self) -> str:
        return self.results.baseline

    @property
    def finished(self) -> list[RunRecord]:
        return [r for r in self.records if r.finished]

    def runs_of(self, variant: str) -> list[RunRecord]:
        """Finished runs of ``variant``, by seed."""
        return sorted((r for r in self.finished if _variant(r) == variant), key=_seed)

    def metric(self, variant: str, name: str) -> list[Any]:
        """``name`` of every finished run of ``variant`` that recorded it (seed order)."""
        return [r.metrics[name] for r in self.runs_of(variant) if r.metrics.get(name) is not None]

    def seeds(self) -> list[int]:
        return sorted({_seed(r) for r in self.records})

    def shared_config(self) -> dict[str, Any]:
        """Config fields with one value across every run (the grid's settings)."""
        return shared_config(self.records)

    def varying_config(self) -> dict[str, list[Any]]:
        """Config fields whose value differs between runs, with their distinct values."""
        out: dict[str, list[Any]] = {}
        for rec in self.records:
            for k, v in rec.config.items():
                vals = out.setdefault(k, [])
                if v not in vals:
                    vals.append(v)
        return {k: v for k, v in out.items() if len(v) > 1}

    def environment(self) -> dict[str, list[str]]:
        """Distinct provenance values over the runs: versions, git hash, device."""
        env: dict[str, list[str]] = {}
        for label, attr in (
            ("poolstride", "poolstride_version"),
            ("torch", "torch_version"),
            ("git commit", "git_hash"),
            ("device", "device"),
        ):
            vals = sorted({str(getattr(r, attr) or "") for r in self.records} - {""})
            env[label] = vals or ["(not recorded)"]
        starts = sorted(r.started_at for r in self.records if r.started_at)
        ends = sorted(r.finished_at for r in self.records if r.finished_at)
        if starts:
            env["first run started"] = [starts[0]]
        if ends:
            env["last run finished"] = [ends[-1]]
        return env

    def command(self) -> str:
        """The ``poolstride compare`` command line that reproduces this grid."""
        command = reproduce_command(
            self.records, self.baseline, self.results.test, self.run_dir, self.variants
        )
        return _with_decision_flags(command, self.grid)


def _with_decision_flags(command: str, grid: dict[str, Any]) -> str:
    """``command`` with the grid's ``--seeds auto`` (and its cap, budget) and ``--margin``:
    the seeds a ``--seeds auto`` run used differ by variant, and only ``auto`` re-creates
    them."""
    words = shlex.split(command.split("  #", 1)[0])
    if "--seeds" not in words:
        return command  # the --config form: config.yaml has them
    rest = command[len(shlex.join(words)) :]
    if str(grid.get("seeds")) == "auto":
        i = words.index("--seeds")
        words[i + 1] = "auto"
        extra = ["--max-seeds", str(grid.get("max_seeds", 10))]
        if grid.get("budget") is not None:
            extra += ["--budget", str(grid["budget"])]
        words[i + 2 : i + 2] = extra
    if grid.get("margin"):
        words += ["--margin", str(grid["margin"])]
    return shlex.join(words) + rest


def _variant(rec: RunRecord) -> str:
    return str(rec.config.get("variant", "?"))


def _seed(rec: RunRecord) -> int:
    try:
        return int(rec.config.get("seed", 0))
    except (TypeError, ValueError):
        return 0


def shared_config(records: Sequence[RunRecord]) -> dict[str, Any]:
    """Config fields with the same value in every record (first record's key order)."""
    if not records:
        return {}
    first = records[0].config
    return {
        k: v
        for k, v in first.items()
        if all(k in r.config and r.config[k] == v for r in records[1:])
    }


def _read_grid(run_dir: Path) -> dict[str, Any]:
    """``config.yaml`` of the run directory as a dict ({} if missing or unreadable)."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return {}
    try:
        import yaml

        data = yaml.safe_load(path.read_text())
    except Exception:  # noqa: BLE001 - a damaged side file must not stop the report
        return {}
    return data if isinstance(data, dict) else {}


def load_run(
    run_dir: str | Path, *, baseline: str | None = None, test: str | None = None
) -> RunData:
    """Read ``run_dir`` (a directory holding ``runs.sqlite``, or the ``.sqlite`` file).

    Raises:
        PoolstrideError: no store there, or the store holds no runs at all.
    """
    path = Path(run_dir)
    if path.suffix in (".sqlite", ".db"):
        store_path, run_dir_path = path, path.parent
    else:
        store_path, run_dir_path = path / STORE_FILENAME, path
    if not store_path.is_file():
        raise PoolstrideError(
            f"no run store at {str(store_path)!r}; give a run directory "
            "written by `poolstride compare`"
        )
    with Store(store_path, create=False) as store:
        records = store.all_runs()
    if not records:
        raise PoolstrideError(f"run store {str(store_path)!r} holds no runs yet")
    grid = _read_grid(run_dir_path)
    data = from_records(
        records,
        name=run_dir_path.resolve().name,
        run_dir=run_dir_path,
        grid=grid,
        baseline=baseline,
        test=test,
    )
    data.results.auto = _read_auto(run_dir_path, data.results)
    data.timing = read_timing(run_dir_path)
    return data


def _read_auto(run_dir: Path, results: Results) -> Any:
    """What ``--seeds auto`` did, from ``results.json`` -- only when it describes these runs
    (the same seeds per variant); ``None`` otherwise."""
    path = run_dir / "results.json"
    try:
        saved = json.loads(path.read_text()).get("auto") if path.is_file() else None
        auto = auto_from_dict(saved) if isinstance(saved, dict) else None
    except Exception:  # noqa: BLE001 - a damaged side file must not stop the report
        return None
    if auto is None or auto.seeds != results.seeds_used() or results.design is None:
        return None
    return auto


def from_records(
    records: Sequence[RunRecord],
    *,
    name: str = "comparison",
    run_dir: Path | None = None,
    grid: dict[str, Any] | None = None,
    baseline: str | None = None,
    test: str | None = None,
    results: Results | None = None,
) -> RunData:
    """A :class:`RunData` from records (variants and baseline from ``grid`` when given)."""
    records = list(records)
    grid = dict(grid or {})
    if results is None:
        present = list(dict.fromkeys(_variant(r) for r in records))
        listed = [str(v) for v in grid.get("variants") or []]
        variants = [v for v in listed if v in present] + [v for v in present if v not in listed]
        base = baseline or grid.get("baseline")
        if base is not None and str(base) not in variants:
            if baseline is not None:
                raise PoolstrideError(
                    f"baseline {baseline!r} is not among the stored variants: {', '.join(variants)}"
                )
            base = None
        test = test or grid.get("test") or "t"
        if test not in ("t", "wilcoxon"):
            raise PoolstrideError(f"unknown test {test!r}; valid: t, wilcoxon")
        results = Results.from_records(
            records, variants, base, test, out=run_dir, **verdict_options(grid)
        )
    return RunData(name=name, run_dir=run_dir, records=records, results=results, grid=grid)


# --- the command that reproduces the run -------------------------------------------------


def reproduce_options(
    records: Sequence[RunRecord],
    baseline: str | None = None,
    test: str = "t",
    variants: Sequence[str] | None = None,
) -> dict[str, Any]:
    """CompareConfig fields that rebuild exactly this grid of runs.

    Only fields that differ from :class:`~poolstride.experiment.config.CompareConfig`'s
    defaults are returned, plus ``variants`` and ``seeds``.
    """
    defaults = {f.name: f.default for f in fields(CompareConfig)}
    if variants is None:
        variants = list(dict.fromkeys(_variant(r) for r in records))
    opts: dict[str, Any] = {
        "variants": list(variants),
        "seeds": list(dict.fromkeys(_seed(r) for r in records)),
    }
    for key, value in shared_config(records).items():
        if key in _PER_RUN or key not in defaults or key in ("variants", "seeds"):
            continue
        if value != defaults[key]:
            opts[key] = value
    if baseline is not None and variants and baseline != variants[0]:
        opts["baseline"] = baseline
    if test != defaults.get("test", "t"):
        opts["test"] = test
    return opts


def reproduce_command(
    records: Sequence[RunRecord],
    baseline: str | None = None,
    test: str = "t",
    run_dir: Path | None = None,
    variants: Sequence[str] | None = None,
) -> str:
    """``poolstride compare ...`` with the flags that rebuild these runs (shell-quoted).

    Options that have no command-line flag (``momentum``, ``max_shift``, ...) make the
    command fall back to the run's ``config.yaml``, which records every field.
    """
    opts = reproduce_options(records, baseline, test, variants)
    no_flag = sorted(
        k
        for k in opts
        if k not in _FLAGS and k not in ("variants", "seeds", "baseline", "test", "download")
    )
    if no_flag and run_dir is not None and (run_dir / "config.yaml").is_file():
        return shlex.join(
            [
                "poolstride",
                "compare",
                "--config",
                str(run_dir / "config.yaml"),
                "--out",
                str(run_dir),
            ]
        )
    args = [
        "poolstride",
        "compare",
        "--variants",
        ",".join(opts["variants"]),
        "--seeds",
        _seeds_arg(opts["seeds"]),
    ]
    if "baseline" in opts:
        args += ["--baseline", str(opts["baseline"])]
    for key, flag in _FLAGS.items():
        if key in opts and opts[key] is not None:
            args += [flag, _flag_value(opts[key])]
    if opts.get("download"):
        args.append("--download")
    if "test" in opts:
        args += ["--test", str(opts["test"])]
    if run_dir is not None:
        args += ["--out", str(run_dir)]
    command = shlex.join(args)
    if no_flag:
        command += "  # also set in a --config YAML: " + ", ".join(
            f"{k}={opts[k]!r}" for k in no_flag
        )
    return command


def _seeds_arg(seeds: Sequence[int]) -> str:
    """``--seeds`` text: a count for 0..n-1, a range ``a-b`` if contiguous, else a list
    (in the order given: the run order)."""
    seeds = list(seeds)
    if seeds == list(range(len(seeds))):
        return str(len(seeds))
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and seeds[0] >= 0:
        return f"{seeds[0]}-{seeds[-1]}"  # also one seed: "4-4" (a bare "4" is a count)
    return ",".join(str(s) for s in seeds)


def _flag_value(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return str(value)


# --- per-layer tables --------------------------------------------------------------------


@dataclass(frozen=True)
class LayerProfile:
    """A variant's per-layer table, or why it could not be built (``table`` is None)."""

    variant: str
    table: Any = None  # poolstride.analysis.profile.ProfileTable
    error: str = ""


def layer_profiles(data: RunData) -> list[LayerProfile]:
    """Profile each variant's model, rebuilt untrained from its first stored run's config.

    The input shape and class count come from the run's metrics when recorded
    (``input_shape``, ``num_classes``), else from loading the dataset's metadata locally
    (``download=False``); a dataset that is not available gives an explanatory ``error``.
    """
    out = []
    shapes: dict[tuple, Any] = {}
    for variant in data.variants:
        runs = data.runs_of(variant) or [r for r in data.records if _variant(r) == variant]
        if not runs:
            continue
        rec = runs[0]
        try:
            out.append(LayerProfile(variant, _profile_one(rec, shapes)))
        except Exception as err:  # noqa: BLE001 - one variant's table must not sink the report
            text = str(err).strip().splitlines()
            out.append(LayerProfile(variant, None, text[0] if text else type(err).__name__))
    return out


def _profile_one(rec: RunRecord, shapes: dict[tuple, Any]):
    model, input_shape = rebuild_model(rec, shapes)
    return profile(model, input_shape)


def rebuild_model(rec: RunRecord, shapes: dict[tuple, Any] | None = None):
    """``(model, input_shape)``: the run's model rebuilt untrained from its stored config.

    ``shapes`` caches ``(input_shape, num_classes)`` per dataset across calls, for runs stored
    without them (the dataset's metadata is then loaded locally, ``download=False``).
    """
    shapes = {} if shapes is None else shapes
    cfg, metrics = rec.config, rec.metrics
    input_shape, num_classes = metrics.get("input_shape"), metrics.get("num_classes")
    if input_shape is None or num_classes is None:
        key = (
            cfg.get("dataset", "mnist1d"),
            cfg.get("data_dir"),
            cfg.get("image_size"),
            cfg.get("data_options"),
        )
        if key not in shapes:  # the run's own data: its image size and loader options
            options = dataset_options(key[2], key[3])
            ds = load_dataset(key[0], data_dir=key[1], download=False, **options)
            shapes[key] = (tuple(ds.input_shape), int(ds.num_classes))
        input_shape, num_classes = shapes[key]
    run_cfg = RunConfig.from_dict(cfg)
    width = metrics.get("width") if metrics.get("width") is not None else run_cfg.width
    if ":" not in run_cfg.model:  # the stored width is already the matched one
        run_cfg = dataclasses.replace(run_cfg, width=width, match="none")
    # the same builder the experiment trains with, so zoo models (torchvision:, timm:) work
    return build_for(run_cfg, tuple(input_shape), int(num_classes)), tuple(input_shape)


__all__ = [
    "LayerProfile",
    "RunData",
    "from_records",
    "layer_profiles",
    "load_run",
    "rebuild_model",
    "reproduce_command",
    "reproduce_options",
    "shared_config",
]
