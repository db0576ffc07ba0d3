"""One frozen dataclass per run, and the grid that expands into runs.

:class:`RunConfig` holds every choice that can change a run's numbers (dataset, model,
downsampling variant, seed, optimiser, schedule, budget, augmentation, metric settings). It
is saved as JSON beside the run's metrics, and :attr:`RunConfig.key` — a hash of exactly
those fields — identifies the run in the store, so re-running the same command skips what
is already finished. Execution details that do not change the numbers' meaning (device,
data folder) are recorded but left out of the key.

:class:`CompareConfig` is the grid: the same training fields plus ``variants`` and
``seeds``; :meth:`CompareConfig.runs` expands it into ``len(variants) * len(seeds)``
run configs that differ only in variant and seed (identical budget for every variant).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from os import PathLike
from pathlib import Path
from typing import Any

from poolstride.errors import PoolstrideError, unknown
from poolstride.experiment.allocator import ALLOCATORS

#: The default grid: the classic pooling choices; the two meanings of "strided convolution" —
#: ``conv`` (a learned stride-2 layer at each downsampling site) and ``subsample`` (the block's
#: own convolution made stride 2, as in the MNIST-1D and All-CNN "striding" networks); the
#: anti-aliased pooling of Zhang (2019); and "none" (no downsampling) as the control.
DEFAULT_VARIANTS: tuple[str, ...] = ("max", "avg", "conv", "subsample", "blur-max", "none")

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("cosine", "step", "constant")
AUGMENTS = ("none", "shift", "flip", "shift+flip")
DEVICES = ("auto", "cpu", "cuda")
MATCHES = ("none", "params", "macs")
TESTS = ("t", "wilcoxon")
AMPS = ("none", "bf16")
BACKENDS = ("local", "ray")

# Fields recorded with the run but not part of its identity: where the data lives and which
# device ran it do not change what the run *is* (results are compared across machines).
# ``deterministic`` is how a run was executed (recorded with it, like threads and seed fusion),
# not what it is: a deterministic rerun answers the same question.
# ``stream`` and ``memory_cap`` only decide where an image folder's pixels are read from
# (memory or the decode cache): the batches, and so the numbers, are the same.
_NOT_IN_KEY = frozenset(
    {"data_dir", "device", "download", "tensorboard_dir", "deterministic", "stream", "memory_cap"}
)


@dataclass(frozen=True)
class CliOption:
    """How a config field appears as a ``poolstride compare`` option (``--batch-size``).

    The flag is the field name with dashes. ``value_type``: ``str``, ``int``, ``float`` or
    ``"dir"`` (a directory path); ``choices``: the valid values (case-insensitive);
    ``switch``: ``"flag"`` (``--x``) or ``"pair"`` (``--x/--no-x``) for booleans;
    ``flag_value``: the value of the option given without one (``--mlflow`` alone);
    ``default_text``: the default as the help shows it (else the field's default).
    """

    help: str
    short: str | None = None
    value_type: Any = str
    choices: tuple[str, ...] | None = None
    switch: str | None = None
    default_text: str | None = None
    flag_value: str | None = None

    @staticmethod
    def flag_of(name: str) -> str:
        return "--" + name.replace("_", "-")


def option(default: Any, help: str, **how: Any) -> Any:
    """A config field that is also a command-line option (see :class:`CliOption`): its
    help, flag and choices are declared here once, for the CLI, the config file and the
    report's "reproduce" command alike."""
    return dataclasses.field(default=default, metadata={"cli": CliOption(help, **how)})


def cli_options(config_class: type) -> list[tuple[str, Any, CliOption]]:
    """``(field name, default, CliOption)`` for each option field of ``config_class``."""
    return [
        (f.name, f.default, f.metadata["cli"]) for f in fields(config_class) if "cli" in f.metadata
    ]


@dataclass(frozen=True)
class TrainingFields:
    """The fields shared by one run and a whole grid: data, model and training budget.

    Defined once here; :class:`RunConfig` adds the variant and seed, :class:`CompareConfig`
    the variants, seeds and how the grid is run.
    """

    dataset: str = option(
        "mnist1d",
        "Dataset name (mnist1d, shapes2d, digits, mnist, fashion-mnist, cifar10, cifar100, "
        "svhn, folder:PATH).",
        short="-d",
    )
    model: str = option(
        "simple",
        "Backbone (simple, allcnn-a/b/c, resnet20/56/110, lenet5, torchvision:NAME, timm:NAME);"
        " options after commas: resnet56,shortcut=resnet-d.",
        short="-m",
    )
    head: str = option("gap", "Global head: gap, gmp, avgmax, catavgmax, flatten.")
    width: int | None = option(None, "Base channel count of the model.", value_type=int)
    depth: int | None = option(
        None, "Number of downsampling stages (model-dependent).", value_type=int
    )
    match: str = option(
        "none", "Scale each variant's width to the baseline's params or MACs.", choices=MATCHES
    )
    train_size: int | None = option(
        None, "Use a stratified subset of the training set.", value_type=int
    )
    image_size: str | None = option(
        None,
        "Image folders (and shapes2d): images resized to SIZE (64) or HxW (64x96) pixels; "
        "part of each run's identity.",
        default_text="the folder's most common size",
    )
    data_options: str | None = option(
        None,
        "Dataset loader options, KEY=VALUE[,KEY=VALUE]: mnist1d num_samples, train_split, "
        "final_seq_length, shuffle_seq, seed_data; folder:PATH test_fraction; shapes2d "
        "num_train, num_test, noise, generator_seed. Part of each run's identity.",
        default_text="none",
    )
    data_seed: int = 0
    optimizer: str = option("adam", "Optimiser.", choices=OPTIMIZERS)
    lr: float = option(3e-3, "Peak learning rate.", value_type=float)
    momentum: float = 0.9
    weight_decay: float = option(0.0, "L2 weight decay.", value_type=float)
    schedule: str = option("cosine", "Learning-rate schedule.", choices=SCHEDULES)
    steps: int | None = option(800, "Optimiser steps per run.", value_type=int)
    epochs: int | None = option(
        None, "Passes over the training set instead of --steps.", value_type=int
    )
    batch_size: int = option(128, "Training batch size.", value_type=int)
    augment: str = option("none", "Random shift/crop and/or flip.", choices=AUGMENTS)
    max_shift: int = 4
    log_every: int = 50
    eval_points: int = 10
    shift_samples: int = 1000
    data_dir: str | None = option(None, "Where datasets are kept.", value_type="dir")
    download: bool = option(
        False, "Let torchvision datasets download (needs network).", switch="pair"
    )
    stream: bool = option(
        False,
        "Image folders: read each batch from the decoded cache instead of holding the "
        "images in memory (same numbers; for folders larger than memory).",
        switch="flag",
    )
    memory_cap: float | None = option(
        None,
        "Image folders: GB of decoded images held in memory; a larger folder is streamed "
        "from its cache.",
        value_type=float,
        default_text="half the available memory",
    )
    device: str = option(
        "auto", "Where to train.", choices=DEVICES, default_text="auto = cuda if present"
    )
    amp: str = option(
        "none",
        "bf16 autocast for the forward pass (CPU or CUDA); part of each run's identity.",
        choices=AMPS,
    )
    deterministic: bool = option(
        False,
        "Bit-identical reruns whatever the schedule: torch deterministic algorithms, seeds "
        "trained separately, one thread per run (slower; recorded with each run).",
        switch="flag",
    )


@dataclass(frozen=True)
class RunConfig(TrainingFields):
    """Everything that defines one training run (saved with its results).

    Budget: ``steps`` optimiser steps if given, else ``epochs`` passes over the training
    set (``epochs * (n_train // batch_size)`` steps). Learning rate follows ``schedule``:
    ``cosine`` decays ``lr`` to 0 as ``lr * (1 + cos(pi * t / T)) / 2``; ``step`` multiplies
    it by 0.1 at 50% and 75% of the budget; ``constant`` keeps it.
    """

    variant: str = "max"
    seed: int = 0
    match_reference: str | None = None
    tensorboard_dir: str | None = None  # log per-step scalars here (TensorBoard), if set

    def __post_init__(self):
        validate_run_fields(self)

    @property
    def key(self) -> str:
        """16-hex-digit hash of the fields that define the run (not device/data_dir)."""
        payload = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def identity(self) -> dict[str, Any]:
        """The fields hashed into :attr:`key`."""
        data = {k: v for k, v in self.to_dict().items() if k not in _NOT_IN_KEY}
        if data.get("amp") == "none":  # absent unless used: keys made before amp stay valid
            del data["amp"]
        for name in ("image_size", "data_options"):  # the same: absent unless used
            if data.get(name) is None:
                data.pop(name, None)
        return data

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Rebuild a config saved by :meth:`to_dict` (unknown keys are an error)."""
        names = {f.name for f in fields(cls)}
        bad = sorted(set(data) - names)
        if bad:
            raise unknown("run config field", bad[0], names)
        return cls(**dict(data))


#: Most seeds one grid may list (a count beyond this is a typo, not an experiment).
MAX_SEEDS = 10_000
#: Seeds are non-negative and below 2**63 (what torch.manual_seed and numpy accept).
SEED_LIMIT = 2**63


_POSITIVE = (
    "steps",
    "epochs",
    "batch_size",
    "train_size",
    "log_every",
    "eval_points",
    "shift_samples",
    "width",
    "depth",
)


def _check_types(cfg: Any) -> None:
    """Each field has its declared type: a YAML ``lr: [0.1]`` or ``steps: true`` is refused
    with one line, not a TypeError later or "True steps". Numbers written as text (``lr:
    1e-3`` is a string to YAML) are read as numbers; booleans are never numbers."""
    for f in fields(cfg):
        declared = str(f.type).replace(" ", "")
        value = getattr(cfg, f.name)
        if value is None and "None" in declared:
            continue
        base = declared.replace("|None", "")
        if base in ("int", "float"):
            number = _number(value, int if base == "int" else float)
            if number is None:
                kind = "a number"
                if base == "int":
                    kind = "a positive integer" if f.name in _POSITIVE else "an integer"
                raise PoolstrideError(f"{f.name} must be {kind}, got {value!r}")
            if base == "float" and not math.isfinite(number):
                raise PoolstrideError(f"{f.name} must be a finite number, got {value!r}")
            object.__setattr__(cfg, f.name, number)
        elif base == "str":
            if isinstance(value, PathLike):
                object.__setattr__(cfg, f.name, str(value))
            elif not isinstance(value, str):
                raise PoolstrideError(f"{f.name} must be a string, got {value!r}")
        elif base == "bool" and not isinstance(value, bool):
            raise PoolstrideError(f"{f.name} must be true or false, got {value!r}")


def _number(value: Any, kind: type) -> Any:
    """``value`` as an int/float (numbers written as text accepted), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = kind(value.strip())
        except (ValueError, OverflowError):
            return None
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return value if isinstance(value, int) else None
    if not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:  # an int beyond float range
        return None


def validate_run_fields(cfg: Any) -> None:
    """Check the choice-valued and numeric fields shared by RunConfig and CompareConfig."""
    _check_data_fields(cfg)
    _check_types(cfg)
    for name, valid in (
        ("optimizer", OPTIMIZERS),
        ("schedule", SCHEDULES),
        ("augment", AUGMENTS),
        ("device", DEVICES),
        ("match", MATCHES),
        ("amp", AMPS),
    ):
        if getattr(cfg, name) not in valid:
            raise unknown(name, getattr(cfg, name), valid)
    if cfg.steps is None and cfg.epochs is None:
        raise PoolstrideError("give a training budget: steps or epochs (both are None)")
    for name in _POSITIVE:
        value = getattr(cfg, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise PoolstrideError(f"{name} must be a positive integer, got {value!r}")
    if cfg.max_shift < 0:
        raise PoolstrideError(f"max_shift must be >= 0, got {cfg.max_shift!r}")
    if not cfg.lr > 0:
        raise PoolstrideError(f"lr must be > 0, got {cfg.lr!r}")
    if cfg.weight_decay < 0:
        raise PoolstrideError(f"weight_decay must be >= 0, got {cfg.weight_decay!r}")
    if not 0 <= cfg.momentum <= 1:
        raise PoolstrideError(f"momentum must be in [0, 1], got {cfg.momentum!r}")
    if cfg.memory_cap is not None and not cfg.memory_cap > 0:
        raise PoolstrideError(f"memory_cap must be > 0 GB, got {cfg.memory_cap!r}")
    if (cfg.stream or cfg.memory_cap is not None) and not cfg.dataset.strip().lower().startswith(
        "folder:"
    ):
        flag = "--stream" if cfg.stream else "--memory-cap"
        raise PoolstrideError(
            f"{flag} applies to image folders (--dataset folder:PATH), not {cfg.dataset!r}"
        )
    if not 0 <= cfg.data_seed < SEED_LIMIT:
        raise PoolstrideError(f"data_seed must be in [0, 2**63), got {cfg.data_seed!r}")
    if not 0 <= getattr(cfg, "seed", 0) < SEED_LIMIT:
        raise PoolstrideError(f"seed must be in [0, 2**63), got {cfg.seed!r}")


@dataclass(frozen=True)
class CompareConfig(TrainingFields):
    """A comparison grid: training fields shared by every run, plus variants and seeds.

    ``seeds`` is a count (``3`` means seeds 0, 1, 2) or an explicit list. ``baseline`` is
    the variant every other one is compared against (default: the first). ``test`` is the
    paired test (``t`` or ``wilcoxon``), Holm-corrected across variants per metric.
    """

    variants: tuple[str, ...] = option(
        DEFAULT_VARIANTS,
        "Comma-separated downsampling variants, options after ':' "
        "(max,avg,conv:k3,blur-max:filt5).",
        short="-v",
        default_text=",".join(DEFAULT_VARIANTS),
    )
    seeds: tuple[int, ...] = option(
        (0, 1, 2),
        "A count (3), a list (0,1,2), a range (0-4), or auto: add seeds in rounds to the "
        "variants still undecided, up to --max-seeds.",
        short="-s",
        default_text="3",
    )
    baseline: str | None = option(
        None, "Variant the others are compared with.", default_text="first"
    )
    test: str = option("t", "Paired test: t or wilcoxon.", choices=TESTS)
    margin: str | None = option(
        None,
        "Practical margin: differences inside it are 'equivalent'. A number is test accuracy "
        "in points (0.5); per metric: test_acc=0.5,test_loss=0.01 (loss in nats).",
        default_text="test_acc=0.5,test_loss=0.01,circ=0.5,crop=0.5",
    )
    max_seeds: int = option(10, "Seed cap of --seeds auto.", value_type=int)
    budget: float | None = option(
        None,
        "Time budget of --seeds auto in minutes: no round starts that would end past it.",
        value_type=float,
        default_text="none",
    )
    out: str | None = option(
        None, "Run directory.", short="-o", value_type="dir", default_text="runs/<dataset>-<model>"
    )
    workers: int | None = option(
        1,
        "Runs in parallel (local processes or Ray tasks).",
        short="-j",
        value_type=int,
        default_text="number of cores",
    )
    threads: int | None = option(
        None, "CPU threads per run.", value_type=int, default_text="cores // workers"
    )
    backend: str = option(
        "local",
        "Where runs execute: local processes or a Ray cluster (pip install 'poolstride[ray]').",
        choices=BACKENDS,
    )
    address: str | None = option(
        None,
        "Ray cluster address (auto, ray://host:10001) for --backend ray.",
        default_text="start a local Ray on 127.0.0.1",
    )
    batch_seeds: bool | None = option(
        None,
        "Train the seeds of a variant as one seed-fused model (same computation; float32 "
        "rounding differs slightly from separate runs).",
        switch="pair",
        default_text="on, in chunks that keep every worker busy",
    )
    channels_last: bool = option(
        False,
        "Train 2D models channels-last (then --autotune only picks the pooling kernels).",
        switch="flag",
    )
    autotune: bool = option(
        True,
        "Time each variant's training step in every memory format, with poolstride's pooling "
        "kernels and PyTorch's, and train in the fastest when it is at least 10% faster than "
        "the default (contiguous, kernels on); recorded with each run, not part of its key.",
        switch="pair",
    )
    tensorboard: bool = option(
        False, "Log per-step loss and test metrics to RUN_DIR/tensorboard/.", switch="flag"
    )
    mlflow: str | None = option(
        None,
        "Log each run to MLflow (params, metric curves, report and results files) under one "
        "parent run per grid: a tracking URI, or a directory for a local store "
        "(pip install 'poolstride[mlflow]').",
        flag_value="mlruns",
        default_text="off; --mlflow alone: ./mlruns",
    )
    allocator: str = option(
        "retain",
        "Memory allocator of the training processes: retain (keep freed memory for the next "
        "step; glibc only, else default) or default. $POOLSTRIDE_ALLOCATOR=default turns it off.",
        choices=ALLOCATORS,
    )
    progress_every: float = option(
        30.0,
        "Without a terminal (a log file, a pipe, CI): seconds between progress lines; one is "
        "also printed at each run's end.",
        value_type=float,
    )

    def __post_init__(self):
        _check_auto_fields(self)
        variants = _as_tuple(self.variants, str)
        if not variants:
            raise PoolstrideError("variants is empty; give at least one, e.g. max,conv")
        if len(set(variants)) != len(variants):
            raise PoolstrideError(f"variants repeat a name: {','.join(variants)}")
        auto = self.auto  # --seeds auto: validated as the seeds it may use
        seeds = tuple(range(self.max_seeds)) if auto else self.seeds
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            if not 1 <= seeds <= MAX_SEEDS:
                raise PoolstrideError(
                    f"seeds must be >= 1 and at most {MAX_SEEDS} (a count), got {seeds}"
                )
            seeds = tuple(range(seeds))
        seeds = _as_tuple(seeds, int)
        if not seeds or len(set(seeds)) != len(seeds):
            raise PoolstrideError(f"seeds must be a count or distinct integers, got {self.seeds!r}")
        if len(seeds) > MAX_SEEDS:
            raise PoolstrideError(f"at most {MAX_SEEDS} seeds, got {len(seeds)}")
        bad = [s for s in seeds if not 0 <= s < SEED_LIMIT]
        if bad:
            raise PoolstrideError(f"a seed must be in [0, 2**63), got {bad[0]}")
        baseline = self.baseline if self.baseline is not None else variants[0]
        if baseline not in variants:
            raise PoolstrideError(
                f"baseline {baseline!r} is not among the variants: {', '.join(variants)}"
            )
        if self.test not in TESTS:
            raise unknown("test", self.test, TESTS)
        for name in ("workers", "threads"):
            value = getattr(self, name)
            if value is None:  # workers: one per core; threads: a fair share of the cores
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PoolstrideError(f"{name} must be a positive integer, got {value!r}")
        if self.backend not in BACKENDS:
            raise unknown("backend", self.backend, BACKENDS)
        _check_data_fields(self)  # image_size as text before its type is checked
        _check_types(self)  # progress_every as a number before it is compared
        if not self.progress_every > 0:
            raise PoolstrideError(
                f"progress_every must be a positive number of seconds, got {self.progress_every!r}"
            )
        if self.allocator not in ALLOCATORS:
            raise unknown("allocator", self.allocator, ALLOCATORS)
        if self.address is not None and self.backend != "ray":
            raise PoolstrideError(f"--address {self.address!r} needs --backend ray")
        if self.batch_seeds not in (None, True, False):
            raise PoolstrideError(
                f"batch_seeds must be true, false or null, got {self.batch_seeds!r}"
            )
        if self.deterministic is True:  # one schedule for every run: separate seeds, 1 thread
            if self.batch_seeds is True:
                raise PoolstrideError("--deterministic trains seeds separately: drop --batch-seeds")
            if self.threads not in (None, 1):
                raise PoolstrideError(
                    f"--deterministic runs one thread per run, got --threads {self.threads}"
                )
            object.__setattr__(self, "batch_seeds", False)
            object.__setattr__(self, "threads", 1)
        object.__setattr__(self, "variants", variants)
        object.__setattr__(self, "seeds", "auto" if auto else seeds)
        object.__setattr__(self, "baseline", baseline)
        validate_run_fields(self)

    @property
    def auto(self) -> bool:
        """Seeds until decided (``seeds: auto``)."""
        return isinstance(self.seeds, str) and self.seeds.strip().lower() == "auto"

    def runs(self, seeds_of: Mapping[str, Sequence[int]] | None = None) -> list[RunConfig]:
        """One RunConfig per (variant, seed), variant-major; identical budget for all.

        ``seeds_of``: each variant's seeds (a round of ``--seeds auto``); by default
        ``seeds`` for every variant -- with ``seeds: auto``, the first round's 0, 1, 2.
        """
        first = tuple(range(min(3, self.max_seeds))) if self.auto else self.seeds
        shared = {
            f.name: getattr(self, f.name)
            for f in fields(RunConfig)
            if f.name not in ("variant", "seed", "match_reference", "tensorboard_dir")
        }
        # budget matching scales every variant's model to the baseline's params/MACs
        ref = self.baseline if self.match != "none" else None
        tb = str(Path(self.out) / "tensorboard") if self.tensorboard and self.out else None
        return [
            RunConfig(variant=v, seed=s, match_reference=ref, tensorboard_dir=tb, **shared)
            for v in self.variants
            for s in (seeds_of.get(v, ()) if seeds_of is not None else first)
        ]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["variants"] = list(self.variants)
        data["seeds"] = "auto" if self.auto else list(self.seeds)
        return data

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CompareConfig:
        """Build from a dict (YAML keys may use dashes: ``batch-size``); unknown keys error."""
        names = {f.name for f in fields(cls)}
        clean: dict[str, Any] = {}
        for raw_key, value in data.items():
            name = str(raw_key).replace("-", "_")
            if name not in names:
                raise unknown("config key", str(raw_key), sorted(names))
            clean[name] = value
        if isinstance(clean.get("variants"), str):
            clean["variants"] = split_list(clean["variants"])
        if isinstance(clean.get("seeds"), str):
            clean["seeds"] = parse_seeds(clean["seeds"])
        return cls(**clean)

    def replace(self, **changes: Any) -> CompareConfig:
        return dataclasses.replace(self, **changes)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (or JSON) config file into a dict of CompareConfig fields."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise PoolstrideError(f"config file not found: {str(path)!r}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        first = str(err).strip().splitlines()[0]
        raise PoolstrideError(f"cannot parse config file {str(path)!r}: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PoolstrideError(f"config file {str(path)!r} must hold a mapping of options")
    return data


def split_list(text: str) -> list[str]:
    """``"max, conv,,avg"`` -> ``["max", "conv", "avg"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_seeds(text: str | int) -> int | list[int] | str:
    """``"3"`` -> 3 (a count); ``"0,4,7"`` -> [0, 4, 7]; ``"2-5"`` -> [2, 3, 4, 5];
    ``"auto"`` -> ``"auto"`` (seeds until decided)."""
    if isinstance(text, int):
        return text
    text = text.strip()
    if text.lower() == "auto":
        return "auto"
    try:
        if "," in text:
            return [int(part) for part in split_list(text)]
        if "-" in text[1:]:
            lo, hi = (int(part) for part in text.split("-", 1))
            if lo > hi:
                raise PoolstrideError(
                    f"seed range {text!r} is empty: the first seed must not exceed the last "
                    f"(e.g. {hi}-{lo})"
                )
            if hi - lo >= MAX_SEEDS:
                raise PoolstrideError(f"seed range {text!r} holds more than {MAX_SEEDS} seeds")
            return list(range(lo, hi + 1))
        return int(text)
    except ValueError as err:
        if isinstance(err, PoolstrideError):
            raise
        raise PoolstrideError(
            f"cannot read seeds {text!r}; give a count (3), a list (0,1,2) or a range (0-4)"
        ) from None


# Loader options that have a field of their own (``use_cache`` never changes the data).
_OWN_FLAGS = {"image_size": "--image-size", "stream": "--stream", "memory_cap": "--memory-cap"}


def _check_data_fields(cfg: Any) -> None:
    """``image_size`` and ``data_options`` checked against the dataset's loader and written in
    one canonical text form (``"64"``, ``"64x96"``; ``"num_samples=20000,train_split=0.8"``,
    keys sorted), so equal data always gets an equal run key."""
    if cfg.image_size is None and cfg.data_options in (None, "", {}):
        object.__setattr__(cfg, "data_options", None)
        return
    # imported on use: the data package loads torch, which option declarations never need
    from poolstride.data.load import LOADER_OPTIONS, dataset_family, option_value

    family = dataset_family(cfg.dataset)
    valid = LOADER_OPTIONS[family]
    if cfg.image_size is not None:
        if "image_size" not in valid:
            raise PoolstrideError(
                f"--image-size applies to image folders (--dataset folder:PATH) and shapes2d, "
                f"not {cfg.dataset!r}"
            )
        height, width = parse_image_size(cfg.image_size)
        if family == "shapes2d" and height != width:
            raise PoolstrideError(
                f"shapes2d images are square: give one --image-size, got {cfg.image_size!r}"
            )
        text = str(height) if height == width else f"{height}x{width}"
        object.__setattr__(cfg, "image_size", text)
    if cfg.data_options in (None, "", {}):
        object.__setattr__(cfg, "data_options", None)
        return
    settable = sorted(valid - set(_OWN_FLAGS) - {"use_cache"})
    values = {}
    for key, value in _option_pairs(cfg.data_options).items():
        if key in _OWN_FLAGS:
            raise PoolstrideError(f"give {key} as {_OWN_FLAGS[key]}, not in --data-options")
        if not settable:
            raise PoolstrideError(
                f"dataset {cfg.dataset!r} takes no --data-options, got {key}={value}"
            )
        if key not in settable:
            raise unknown(f"--data-options key for dataset {family!r}:", key, settable)
        values[key] = option_value(key, value)
    object.__setattr__(cfg, "data_options", _options_text(values))


def parse_image_size(value: Any) -> tuple[int, int]:
    """``64``, ``"64"``, ``"64x96"`` or ``(64, 96)`` -> ``(height, width)``, both positive."""
    parts: Any = value
    if isinstance(value, str):
        parts = value.strip().lower().split("x")
    elif isinstance(value, int):
        parts = [value]
    try:
        sizes = [_whole(part) for part in parts]
    except (TypeError, ValueError):
        sizes = []
    if len(sizes) not in (1, 2) or min(sizes) < 1:
        raise PoolstrideError(
            f"image_size must be a positive integer (64) or HEIGHTxWIDTH (64x96), got {value!r}"
        )
    return (sizes[0], sizes[-1])


def _whole(part: Any) -> int:
    if isinstance(part, bool) or isinstance(part, float):
        raise ValueError(part)
    return int(str(part).strip())


def _option_pairs(options: Any) -> dict[str, Any]:
    """``"a=1,b=2"`` (or a mapping, as a YAML config gives it) -> ``{"a": "1", "b": "2"}``."""
    if isinstance(options, Mapping):
        return {str(k).strip(): v for k, v in options.items()}
    if not isinstance(options, str):
        raise PoolstrideError(
            f"data_options must be KEY=VALUE[,KEY=VALUE] or a mapping, got {options!r}"
        )
    pairs: dict[str, Any] = {}
    for item in split_list(options):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise PoolstrideError(
                f"--data-options takes KEY=VALUE pairs (num_samples=20000), got {item!r}"
            )
        if key.strip() in pairs:
            raise PoolstrideError(f"--data-options gives {key.strip()} twice: {options!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def _options_text(values: Mapping[str, Any]) -> str:
    def text(value: Any) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    return ",".join(f"{key}={text(values[key])}" for key in sorted(values))


def dataset_options(image_size: str | None, data_options: str | None) -> dict[str, Any]:
    """The ``load_dataset`` keyword options of a config's ``image_size`` and
    ``data_options`` (both already checked): ``("64x96", "test_fraction=0.1")`` ->
    ``{"image_size": (64, 96), "test_fraction": 0.1}``; an int for a square size."""
    out: dict[str, Any] = {}
    if image_size is not None:
        height, width = parse_image_size(image_size)
        out["image_size"] = height if height == width else (height, width)
    if data_options:
        from poolstride.data.load import option_value  # imported on use, as above

        for key, value in _option_pairs(data_options).items():
            out[key] = option_value(key, value)
    return out


def _check_auto_fields(cfg: Any) -> None:
    """``margin`` (normalised to its text form), ``max_seeds`` and ``budget``."""
    from poolstride.experiment.stats import METRICS, parse_margins

    margin = cfg.margin
    if isinstance(margin, str) and not margin.strip():
        margin = None
    if margin is not None:
        parsed = parse_margins(margin)  # validates names and values
        if not isinstance(margin, str):
            margin = ",".join(f"{k}={v * METRICS[k].scale:g}" for k, v in parsed.items())
    object.__setattr__(cfg, "margin", margin)
    max_seeds = cfg.max_seeds
    if isinstance(max_seeds, str) and max_seeds.strip().isdigit():
        max_seeds = int(max_seeds)
    if isinstance(max_seeds, bool) or not isinstance(max_seeds, int) or max_seeds < 2:
        raise PoolstrideError(f"max_seeds must be an integer >= 2, got {cfg.max_seeds!r}")
    object.__setattr__(cfg, "max_seeds", max_seeds)
    budget = cfg.budget
    if budget is not None:
        try:
            budget = float(budget)
        except (TypeError, ValueError):
            budget = -1.0
        if isinstance(cfg.budget, bool) or not budget > 0 or budget == float("inf"):
            raise PoolstrideError(
                f"budget must be a positive number of minutes, got {cfg.budget!r}"
            )
        object.__setattr__(cfg, "budget", budget)
        if not (isinstance(cfg.seeds, str) and cfg.seeds.strip().lower() == "auto"):
            raise PoolstrideError("--budget needs --seeds auto (a fixed grid runs to the end)")


def _as_tuple(value: Any, kind: type) -> tuple:
    what = "seeds" if kind is int else "variants"
    if isinstance(value, str):
        value = split_list(value) if kind is str else [value]
    if isinstance(value, (Mapping, set, frozenset, bytes)):
        raise PoolstrideError(
            f"{what} must be a list"
            + (" or a count" if kind is int else " of variant names, e.g. [max, conv]")
            + f", got {value!r}"
        )
    if not isinstance(value, Sequence):
        value = [value]
    out = []
    for item in value:
        if kind is int:
            if isinstance(item, bool) or not isinstance(item, int):
                try:
                    item = int(str(item))
                except ValueError:
                    raise PoolstrideError(f"seed must be an integer, got {item!r}") from None
        else:
            if not isinstance(item, str):
                raise PoolstrideError(
                    f"each variant must be a name such as max or conv:k3, got {item!r}"
                )
            item = item.strip()
        out.append(item)
    return tuple(out)


__all__ = [
    "AUGMENTS",
    "DEFAULT_VARIANTS",
    "CompareConfig",
    "RunConfig",
    "dataset_options",
    "load_config_file",
    "parse_image_size",
    "parse_seeds",
    "split_list",
]


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
