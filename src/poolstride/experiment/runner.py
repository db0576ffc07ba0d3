"""Running a grid of RunConfigs: validate up front, train, measure, store; resume for free.

:func:`execute` does one run in the current process (load data, seed, build, train,
measure) and returns its metrics. :func:`run_grid` runs many: it first builds every
(model, variant) pair once and pushes two test inputs through it, so an unknown name or an
input too small for the network fails in seconds with one line, before any training; then it
skips runs whose key is already finished in the store (resume), and runs the rest in this
process or in a local process pool (``workers > 1``). A run whose loss diverges (or that
raises) is stored as ``failed`` with its reason; the others carry on.
"""

from __future__ import annotations

import contextlib
import os
import platform
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from poolstride._version import __version__
from poolstride.analysis.gradient_flow import gradient_norms
from poolstride.errors import PoolstrideError
from poolstride.experiment.config import RunConfig
from poolstride.experiment.latency import fastest_step
from poolstride.experiment.metrics import measure, peak_memory
from poolstride.experiment.store import RunRecord, Store, git_hash, utc_now
from poolstride.experiment.train import Diverged, train

#: samples of the training set used to probe gradient flow (fixed, so runs are comparable)
GRAD_PROBE = 256


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise PoolstrideError(
            "device 'cuda' requested but no CUDA GPU is available; use --device cpu or auto"
        )
    if name not in ("cpu", "cuda"):
        raise PoolstrideError(f"unknown device {name!r}; valid: auto, cpu, cuda")
    return torch.device(name)


@lru_cache(maxsize=4)
def _load(
    dataset: str, data_dir: str | None, download: bool, train_size: int | None, data_seed: int
):
    from poolstride.data import load_dataset

    return load_dataset(
        dataset, data_dir=data_dir, download=download, train_size=train_size, seed=data_seed
    )


def load_data(cfg: RunConfig):
    """The run's dataset (cached per process: every seed and variant reuses the same one)."""
    return _load(cfg.dataset, cfg.data_dir, cfg.download, cfg.train_size, cfg.data_seed)


@lru_cache(maxsize=4)
def _on_device(device: str, dataset) -> tuple[torch.Tensor, ...]:
    tensors = (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test)
    if device.startswith("cuda"):  # from pinned host memory: a fast, asynchronous copy
        return tuple(t.pin_memory().to(device, non_blocking=True) for t in tensors)
    return tuple(t.to(device) for t in tensors)


def build(cfg: RunConfig, dataset) -> nn.Module:
    """The run's model for ``cfg.variant`` (width matched to the baseline when asked).

    ``cfg.model`` is a poolstride backbone (``simple``, ``resnet20``, ...) built with the
    variant's downsampling, or a zoo model (``torchvision:resnet18``, ``timm:resnet18``) whose
    classifier and input channels are adapted to the dataset and whose downsampling sites are
    rewritten by :func:`poolstride.surgery.model_variant` (``original`` keeps them).
    """
    if ":" in cfg.model:
        return _build_zoo(cfg, dataset)
    from poolstride.models import build_model

    return build_model(
        cfg.model,
        cfg.variant,
        dataset.input_shape,
        dataset.num_classes,
        head=cfg.head,
        width=matched_width(cfg, dataset),
        depth=cfg.depth,
    )


def _build_zoo(cfg: RunConfig, dataset) -> nn.Module:
    from poolstride.surgery import model_variant
    from poolstride.zoo import load_model

    for name, value, default in (
        ("width", cfg.width, None),
        ("depth", cfg.depth, None),
        ("match", cfg.match, "none"),
        ("head", cfg.head, "gap"),
    ):
        if value != default:
            raise PoolstrideError(
                f"--{name} {value} applies to poolstride's own models, not {cfg.model!r}; "
                f"leave it at its default ({default})"
            )
    shape = tuple(dataset.input_shape)
    base = load_model(cfg.model, num_classes=dataset.num_classes, input_shape=shape)
    return model_variant(base, cfg.variant, input_shape=shape)


def matched_width(cfg: RunConfig, dataset) -> int | None:
    """``cfg.width``, or with ``cfg.match`` the width at which the variant costs what the
    baseline (``cfg.match_reference``) costs at ``cfg.width`` in params or MACs."""
    if cfg.match == "none" or cfg.match_reference in (None, cfg.variant):
        return cfg.width
    return _match(
        cfg.model,
        cfg.variant,
        cfg.match_reference,
        tuple(dataset.input_shape),
        dataset.num_classes,
        cfg.match,
        cfg.head,
        cfg.width,
        cfg.depth,
    )


@lru_cache(maxsize=64)
def _match(model, variant, reference, input_shape, num_classes, by, head, width, depth) -> int:
    from poolstride.models import match_budget

    return match_budget(
        model,
        variant,
        reference,
        input_shape,
        num_classes,
        by=by,
        head=head,
        width=width,
        depth=depth,
    )


def _tensorboard(cfg: RunConfig):
    """A TensorBoard logger for this run when ``cfg.tensorboard_dir`` is set, else a no-op."""
    if cfg.tensorboard_dir is None:
        return contextlib.nullcontext()
    from poolstride.report.tensorboard import TensorBoardLogger, run_log_dir

    # tensorboard_dir is RUN_DIR/tensorboard; run_log_dir adds <variant>-seed<seed>
    return TensorBoardLogger(run_log_dir(Path(cfg.tensorboard_dir).parent, cfg.variant, cfg.seed))


def execute(
    cfg: RunConfig, *, on_progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """Train and measure one run in this process; return its metrics dict.

    Raises :class:`~poolstride.experiment.train.Diverged` if the loss becomes NaN/inf.
    """
    device = resolve_device(cfg.device)
    ds = load_data(cfg)
    x_train, y_train, x_test, y_test = _on_device(str(device), ds)
    torch.manual_seed(cfg.seed)  # the seed decides the initialisation ...
    model = build(cfg, ds).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    probe_x, probe_y = x_train[:GRAD_PROBE], y_train[:GRAD_PROBE]
    grad_init = gradient_norms(model, probe_x, probe_y)
    with _tensorboard(cfg) as logger:
        result = train(
            model,
            x_train,
            y_train,
            cfg,
            x_test=x_test,
            y_test=y_test,
            on_progress=on_progress,
            logger=logger,
        )  # ... and the data order
    return run_metrics(cfg, model, ds, result, device, grad_init, peak_memory(device))


def run_metrics(
    cfg: RunConfig,
    model: nn.Module,
    ds,
    result,
    device: torch.device,
    grad_init: dict[str, float],
    memory: tuple[float, str],
) -> dict[str, Any]:
    """Everything stored for one trained run: :func:`measure` on the test set, the training
    record ``result`` (a ``TrainResult``, or anything with its fields), the gradient probe
    before (``grad_init``) and after training, ``memory = peak_memory(device)``, and the
    training-step latency of one batch in its fastest configuration (:func:`fastest_step`).
    Shared by :func:`execute` and the seed-batched tasks (``experiment.batched``)."""
    x_train, y_train, x_test, y_test = _on_device(str(device), ds)
    probe_x, probe_y = x_train[:GRAD_PROBE], y_train[:GRAD_PROBE]
    grad_final = gradient_norms(model, probe_x, probe_y)
    mem, mem_source = memory
    metrics = measure(
        model,
        x_test,
        y_test,
        input_shape=tuple(ds.input_shape),
        max_shift=cfg.max_shift,
        shift_samples=cfg.shift_samples,
        seed=cfg.seed,
    )
    metrics.update(
        {
            "final_train_loss": result.final_train_loss,
            "train_time_s": result.train_time_s,
            "train_cpu_s": result.train_cpu_s,
            "steps": result.steps,
            "epochs": result.epochs,
            "peak_memory_mb": mem,
            "peak_memory_source": mem_source,
            "grad_norm_init": grad_init,
            "grad_norm_final": grad_final,
            "curve": result.curve,
            "device": str(device)
            if device.type == "cpu"
            else f"cuda:{torch.cuda.current_device()}",
            "width": matched_width(cfg, ds),
            "train_size": int(x_train.shape[0]),
            "test_size": int(x_test.shape[0]),
            # Saved so the report can rebuild each model for its layer table without the data.
            "input_shape": list(ds.input_shape),
            "num_classes": int(ds.num_classes),
        }
    )
    metrics.update(fastest_step(model, x_train[: cfg.batch_size], y_train[: cfg.batch_size]))
    return metrics


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def validate(configs: Sequence[RunConfig]) -> None:
    """Fail fast with one line: load each dataset and build + run each distinct model once."""
    seen: set[tuple] = set()
    for cfg in configs:
        resolve_device(cfg.device)
        ds = load_data(cfg)
        sig = (
            cfg.dataset,
            cfg.data_dir,
            cfg.train_size,
            cfg.model,
            cfg.variant,
            cfg.head,
            cfg.width,
            cfg.depth,
            cfg.match,
            cfg.match_reference,
        )
        if sig in seen:
            continue
        seen.add(sig)
        try:
            model = build(cfg, ds)
            model.eval()
            with torch.no_grad():
                out = model(ds.x_test[:2])
        except PoolstrideError:
            raise
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            raise PoolstrideError(
                f"model {cfg.model!r} with variant {cfg.variant!r} cannot run on {cfg.dataset} "
                f"inputs of shape {tuple(ds.input_shape)}: {_one_line(err)}"
            ) from None
        if out.shape != (min(2, ds.test_size), ds.num_classes):
            raise PoolstrideError(
                f"model {cfg.model!r} with variant {cfg.variant!r} returned shape "
                f"{tuple(out.shape)}, expected (N, {ds.num_classes})"
            )


@dataclass(frozen=True)
class _Outcome:
    key: str
    metrics: dict[str, Any] | None
    reason: str
    started_at: str
    finished_at: str


def _run_safely(cfg: RunConfig, on_progress=None) -> _Outcome:
    started = utc_now()
    try:
        metrics = execute(cfg, on_progress=on_progress)
        return _Outcome(cfg.key, metrics, "", started, utc_now())
    except Diverged as err:
        return _Outcome(cfg.key, None, f"diverged: {err}", started, utc_now())
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:  # noqa: BLE001 - one bad run must not sink the grid
        if os.environ.get("POOLSTRIDE_DEBUG"):
            traceback.print_exc()
        return _Outcome(cfg.key, None, _one_line(err), started, utc_now())


def _record(cfg: RunConfig, outcome: _Outcome) -> RunRecord:
    metrics = outcome.metrics or {}
    return RunRecord(
        key=cfg.key,
        status="finished" if outcome.metrics is not None else "failed",
        config=cfg.to_dict(),
        metrics=metrics,
        reason=outcome.reason,
        poolstride_version=__version__,
        torch_version=torch.__version__,
        git_hash=git_hash(),
        device=str(metrics.get("device", cfg.device)),
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
    )


def run_grid(
    configs: Sequence[RunConfig],
    store: Store,
    *,
    workers: int | None = 1,
    threads: int | None = 1,
    backend: str = "local",
    address: str | None = None,
    batch_seeds: bool | None = None,
    channels_last: bool = False,
    progress: bool = False,
    console=None,
    validate_first: bool = True,
) -> list[RunRecord]:
    """Run every config not already finished in ``store``; return all their records.

    Records come back in the order of ``configs``. Each run uses ``threads`` CPU threads:
    1 by default, because these small models are dominated by per-op overhead, where extra
    intra-op threads mostly wait on each other (measured: 2 threads on a busy 2-core machine
    made a step 10-40x slower); parallelism comes from ``workers`` processes instead.
    ``progress`` shows rich progress bars (overall, and per run when ``workers == 1``).

    Execution is :func:`poolstride.experiment.parallel.run_grid`: ``workers`` local processes
    (``None``: one per core) or Ray tasks (``backend="ray"``, ``address``), each variant's
    seeds fused into one model (``batch_seeds``: ``None`` fuses in chunks that keep every
    worker busy), ``threads=None`` a fair share ``cores // workers`` (docs/speed.md).
    """
    from poolstride.experiment.parallel import run_grid as run_tasks

    return run_tasks(
        configs,
        store,
        workers=workers,
        threads=threads,
        backend=backend,
        address=address,
        batch_seeds=batch_seeds,
        channels_last=channels_last,
        progress=progress,
        console=console,
        validate_first=validate_first,
    )


class _Progress:
    """Rich progress bars: one for the grid, one for the current run's steps."""

    def __init__(self, total: int, already: int, console=None):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.progress.start()
        self.console = self.progress.console
        if already:
            self.console.print(f"resuming: {already} of {total} runs already finished (skipped)")
        self.grid = self.progress.add_task("runs", total=total, completed=already)
        self.run = None

    def start_run(self, cfg: RunConfig) -> None:
        label = f"  {cfg.variant} seed {cfg.seed}"
        if self.run is None:
            self.run = self.progress.add_task(label, total=None)
        else:
            self.progress.reset(self.run, description=label, total=None)

    def step(self, done: int, total: int) -> None:
        if self.run is not None:
            self.progress.update(self.run, completed=done, total=total)

    def finish_run(self, record: RunRecord) -> None:
        self.progress.advance(self.grid)
        cfg = record.config
        if record.finished:
            m = record.metrics
            self.console.print(
                f"[green]done[/] {cfg['variant']:<12} seed {cfg['seed']}: "
                f"test acc {100 * m['test_acc']:.1f}%  "
                f"({m['train_time_s']:.1f} s)"
            )
        else:
            self.console.print(
                f"[red]failed[/] {cfg['variant']:<12} seed {cfg['seed']}: {record.reason}"
            )

    def stop(self) -> None:
        self.progress.stop()


def environment() -> dict[str, str]:
    """Where results came from (printed with them)."""
    return {
        "poolstride": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "git": git_hash(),
        "threads": str(torch.get_num_threads()),
    }
