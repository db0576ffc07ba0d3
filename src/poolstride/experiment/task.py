"""The unit of work of a grid: a :class:`Task` in, one :class:`Outcome` per run out.

A task is one run, or the seeds of one variant trained as one seed-fused model
(:mod:`poolstride.experiment.seed_fusion`). :func:`run_task` executes a task in the current
process and never raises for a bad run: a run that diverges or fails becomes an outcome with
``metrics=None`` and a one-line reason, so one bad run cannot sink a grid. Backends
(in-process, local pool, Ray) only move tasks to a process and outcomes back; the grid
(:mod:`poolstride.experiment.grid`) turns outcomes into stored records.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from poolstride import kernels
from poolstride.analysis.gradient_flow import gradient_norms
from poolstride.experiment import allocator
from poolstride.experiment.config import RunConfig
from poolstride.experiment.device import resolve_device
from poolstride.experiment.latency import fastest_step
from poolstride.experiment.metrics import measure, peak_memory
from poolstride.experiment.seed_fusion import (
    fuse_models,
    fusion_blocker,
    train_fused,
    unfuse_into,
)
from poolstride.experiment.store import utc_now
from poolstride.experiment.tensorboard import log_final, tensorboard_for
from poolstride.experiment.train import Diverged, train
from poolstride.experiment.workload import build, load_data, matched_width, tensors_on_device

#: samples of the training set used to probe gradient flow (fixed, so runs are comparable)
GRAD_PROBE = 256

#: ``on_progress(step, total, recent training loss)`` at each log point of a training loop
ProgressCallback = Callable[[int, int, float], None]


@dataclass(frozen=True)
class Task:
    """A unit of work for one worker: ``configs`` (one run, or several seeds of one variant).

    ``fused``: train the configs as one seed-fused model. ``own_loop``: use the fused loop
    even for one run (it carries ``amp``/``channels_last``). ``channels_last`` and
    ``pooling_kernels`` (``None``: as the process has them) are the configuration the runs
    train in, ``step_config`` its name and ``step_reason`` why
    (:mod:`poolstride.experiment.step_choice`; recorded with each run).
    """

    configs: tuple[RunConfig, ...]
    fused: bool = False
    own_loop: bool = False
    channels_last: bool = False
    pooling_kernels: bool | None = None
    step_config: str = ""
    step_reason: str = ""

    @property
    def label(self) -> str:
        seeds = ",".join(str(c.seed) for c in self.configs)
        return f"{self.configs[0].variant} seed{'s' if len(self.configs) > 1 else ''} {seeds}"


@dataclass(frozen=True)
class Outcome:
    """What became of one run: its metrics (``None`` if it failed, with ``reason``)."""

    key: str
    metrics: dict[str, Any] | None
    reason: str
    started_at: str
    finished_at: str


def one_line(err: BaseException) -> str:
    """``"TypeName: first line of the message"`` — how a failed run's reason is stored."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")


def lost_outcomes(task: Task, err: BaseException) -> list[Outcome]:
    """Failed outcomes for every run of a task whose worker never returned."""
    lines = str(err).strip().splitlines()
    reason = f"worker lost: {type(err).__name__}" + (f": {lines[0]}" if lines else "")
    now = utc_now()
    return [Outcome(c.key, None, reason, now, now) for c in task.configs]


def run_task(task: Task, on_progress: ProgressCallback | None = None) -> list[Outcome]:
    """Execute ``task`` in this process; one outcome per config, in order."""
    with deterministic_mode(any(c.deterministic for c in task.configs)), step_kernels(task):
        if task.fused or task.own_loop:
            outcomes = execute_fused(
                task.configs, channels_last=task.channels_last, on_progress=on_progress
            )
        else:
            outcomes = [run_safely(cfg, on_progress) for cfg in task.configs]
    for cfg, outcome in zip(task.configs, outcomes):
        if outcome.metrics is not None and task.step_config:
            outcome.metrics["train_step_config"] = task.step_config
            outcome.metrics["train_step_choice"] = task.step_reason
        log_final(cfg, outcome.metrics)  # TensorBoard hparams + final metrics, when asked
    return outcomes


def step_kernels(task: Task):
    """Context: poolstride's pooling kernels on or off as ``task`` trains (unchanged if
    ``task.pooling_kernels`` is None)."""
    if task.pooling_kernels is None:
        return nullcontext()
    return kernels.use_kernels(task.pooling_kernels)


@contextmanager
def deterministic_mode(on: bool):
    """torch's deterministic algorithms (and deterministic cuDNN/cuBLAS) while ``on``.

    An op without a deterministic implementation then fails its run with a one-line reason
    instead of silently varying. The previous settings come back afterwards."""
    if not on:
        yield
        return
    cudnn = torch.backends.cudnn
    saved = (torch.are_deterministic_algorithms_enabled(), cudnn.deterministic, cudnn.benchmark)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts
    torch.use_deterministic_algorithms(True)
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0])
        cudnn.deterministic, cudnn.benchmark = saved[1], saved[2]


def run_safely(cfg: RunConfig, on_progress: ProgressCallback | None = None) -> Outcome:
    """:func:`execute` one run; a divergence or an error becomes a failed outcome."""
    started = utc_now()
    try:
        metrics = execute(cfg, on_progress=on_progress)
        return Outcome(cfg.key, metrics, "", started, utc_now())
    except Diverged as err:
        return Outcome(cfg.key, None, f"diverged: {err}", started, utc_now())
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:  # noqa: BLE001 - one bad run must not sink the grid
        if os.environ.get("POOLSTRIDE_DEBUG"):
            traceback.print_exc()
        return Outcome(cfg.key, None, one_line(err), started, utc_now())


def execute(cfg: RunConfig, *, on_progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Train and measure one run in this process; return its metrics dict.

    Raises :class:`~poolstride.experiment.train.Diverged` if the loss becomes NaN/inf.
    """
    device = resolve_device(cfg.device)
    ds = load_data(cfg)
    x_train, y_train, x_test, y_test = tensors_on_device(str(device), ds)
    torch.manual_seed(cfg.seed)  # the seed decides the initialisation ...
    model = build(cfg, ds).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    probe_x, probe_y = x_train[:GRAD_PROBE], y_train[:GRAD_PROBE]
    grad_init = gradient_norms(model, probe_x, probe_y)
    with tensorboard_for(cfg.variant, cfg.seed, cfg.tensorboard_dir) as logger:
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
    training-step latency of one batch in its fastest configuration (:func:`fastest_step`)."""
    x_train, y_train, x_test, y_test = tensors_on_device(str(device), ds)
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
            **loop_usage(result),
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
            # how the run was executed (one identity, several possible executions): a
            # summary that mixes them says so
            "batched_seeds": 1,
            "threads": torch.get_num_threads(),
            "deterministic": torch.are_deterministic_algorithms_enabled(),
        }
    )
    metrics.update(fastest_step(model, x_train[: cfg.batch_size], y_train[: cfg.batch_size]))
    return metrics


def loop_usage(result) -> dict[str, Any]:
    """The training loop's user/system CPU split and minor page faults (see
    :class:`~poolstride.experiment.train.LoopUsage`), and the allocator of this process."""
    user, system = result.train_user_s, result.train_system_s
    return {
        "train_user_s": user,
        "train_system_s": system,
        "train_system_share": system / (user + system) if user + system > 0 else None,
        "train_minor_faults": int(result.train_minor_faults),
        "allocator": allocator.current(),
    }


def execute_fused(
    cfgs: Sequence[RunConfig],
    *,
    channels_last: bool = False,
    on_progress: ProgressCallback | None = None,
) -> list[Outcome]:
    """Train ``cfgs`` (identical but for the seed) as one seed-fused model; measure each seed.

    Returns one :class:`Outcome` per config, in order, with
    the same metrics :func:`execute` stores for a separate run
    (plus ``batched_seeds``: how many seeds shared the model, and ``batch_train_time_s``: the
    fused wall time; ``train_time_s`` is that time divided by the seeds). If any seed's model
    cannot be fused (:func:`fusion_blocker`, e.g. a hook on one of them), the seeds are
    trained one after another through the same loop instead (``batched_seeds`` = 1). With one
    config this is a plain run through that loop (used for ``amp``/``channels_last``). Errors
    fail every seed of the task with a one-line reason; a diverged seed fails alone.
    """
    cfgs = list(cfgs)
    started = utc_now()
    try:
        amp = cfgs[0].amp
        device = resolve_device(cfgs[0].device)
        ds = load_data(cfgs[0])
        x_train, y_train, x_test, y_test = tensors_on_device(str(device), ds)
        models = []
        for cfg in cfgs:
            torch.manual_seed(cfg.seed)  # each seed's initialisation, as in a separate run
            models.append(build(cfg, ds).to(device))
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        probe_x, probe_y = x_train[:GRAD_PROBE], y_train[:GRAD_PROBE]
        grad_init = [gradient_norms(m, probe_x, probe_y) for m in models]
        # every seed's own model must be fusable (a run may add hooks to one seed's model)
        if len(models) > 1 and all(fusion_blocker(m) is None for m in models):
            groups = [(fuse_models(models), cfgs)]
        else:
            groups = [(m, [c]) for m, c in zip(models, cfgs)]
        results = []
        with ExitStack() as stack:
            loggers = {
                c.key: stack.enter_context(tensorboard_for(c.variant, c.seed, c.tensorboard_dir))
                for c in cfgs
            }
            for model, group_cfgs in groups:
                if channels_last and x_train.ndim == 4:
                    model = model.to(memory_format=torch.channels_last)
                results += train_fused(
                    model,
                    group_cfgs,
                    x_train,
                    y_train,
                    x_test=x_test,
                    y_test=y_test,
                    on_progress=on_progress,
                    channels_last=channels_last,
                    amp=amp,
                    loggers=[loggers[c.key] for c in group_cfgs],
                )
                if len(group_cfgs) > 1:
                    unfuse_into(model, models)
        memory = peak_memory(device)
        batch_time = sum(r.train_time_s for r in results)
        fused_seeds = len(cfgs) if len(groups) == 1 else 1
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:  # noqa: BLE001 - one bad task must not sink the grid
        reason = one_line(err)
        return [Outcome(c.key, None, reason, started, utc_now()) for c in cfgs]

    outcomes = []
    for cfg, model, res, g_init in zip(cfgs, models, results, grad_init):
        if res.diverged:
            outcomes.append(Outcome(cfg.key, None, f"diverged: {res.diverged}", started, utc_now()))
            continue
        try:
            metrics = run_metrics(cfg, model, ds, res, device, g_init, memory)
            metrics.update(
                {
                    "batched_seeds": fused_seeds,
                    "batch_train_time_s": batch_time,
                    "amp": amp,
                    "channels_last": bool(channels_last and x_train.ndim == 4),
                }
            )
            outcomes.append(Outcome(cfg.key, metrics, "", started, utc_now()))
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as err:  # noqa: BLE001
            outcomes.append(Outcome(cfg.key, None, one_line(err), started, utc_now()))
    return outcomes
