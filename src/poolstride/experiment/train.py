"""The one training loop every comparison uses.

Small CNNs on in-memory data spend most of a naive loop's time in Python and host syncs, not
in arithmetic. So this loop:

- keeps the whole training set on the device and indexes batches with a precomputed
  per-epoch permutation (no DataLoader, no collation, no host-to-device copy per step);
- never calls ``.item()`` per step: the loss is summed on the device and read every
  ``log_every`` steps (that read is also where NaN/inf divergence is detected);
- clears gradients with ``set_to_none`` and uses the fused (else foreach) optimiser kernels;
- sets the learning rate by a closed-form schedule (one float write per step).

Seeds: the caller seeds the model's initialisation; this loop draws data order and
augmentation from its own generators seeded with ``cfg.seed``, so two runs with the same
seed see the same batches in the same order whatever the model is.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from poolstride.experiment.augment import make_augment
from poolstride.experiment.config import RunConfig
from poolstride.experiment.device import synchronize

try:
    import resource
except ImportError:  # Windows: no getrusage; user/system split and faults read as 0
    resource = None


class Diverged(RuntimeError):
    """The training loss became NaN or infinite (the run is recorded as failed)."""


@dataclass
class TrainResult:
    """What the loop measured: budget used, wall time and the learning curve."""

    steps: int
    epochs: float
    train_time_s: float
    train_cpu_s: float
    final_train_loss: float
    curve: dict[str, list] = field(default_factory=dict)
    train_user_s: float = 0.0
    train_system_s: float = 0.0
    train_minor_faults: int = 0


class LoopUsage:
    """Wall and CPU seconds, user and system CPU seconds and minor page faults of this
    process (all threads) over a training loop, pauses (evaluations) left out: ``resume()`` …
    ``pause()`` around each stretch of training steps.

    A high system share with many faults per step means the process is paying the kernel to
    hand it memory again (see :mod:`poolstride.experiment.allocator`), not computing.
    """

    def __init__(self) -> None:
        self.wall_s = self.cpu_s = 0.0
        self.user_s = self.system_s = 0.0
        self.minor_faults = 0
        self._since: tuple[float, float, float, float, int] | None = None

    @staticmethod
    def now() -> tuple[float, float, float, float, int]:
        """``(wall, process CPU, user, system, minor faults)`` of this process now."""
        wall, cpu = time.perf_counter(), time.process_time()
        if resource is None:
            return wall, cpu, 0.0, 0.0, 0
        r = resource.getrusage(resource.RUSAGE_SELF)
        return wall, cpu, r.ru_utime, r.ru_stime, r.ru_minflt

    def resume(self) -> None:
        self._since = self.now()

    def pause(self) -> None:
        if self._since is not None:
            wall, cpu, user, system, faults = self.now()
            self.wall_s += wall - self._since[0]
            self.cpu_s += cpu - self._since[1]
            self.user_s += user - self._since[2]
            self.system_s += system - self._since[3]
            self.minor_faults += faults - self._since[4]
            self._since = None

    def per_run(self, runs: int = 1) -> dict[str, float]:
        """The loop's figures as result fields, shared evenly by ``runs`` fused runs."""
        return dict(
            train_time_s=self.wall_s / runs,
            train_cpu_s=self.cpu_s / runs,
            train_user_s=self.user_s / runs,
            train_system_s=self.system_s / runs,
            train_minor_faults=round(self.minor_faults / runs),
        )


def total_steps(cfg: RunConfig, n_train: int) -> int:
    """Optimiser steps of the budget: ``steps``, else ``epochs * (n_train // batch)``."""
    if cfg.steps is not None:
        return cfg.steps
    return cfg.epochs * max(1, n_train // min(cfg.batch_size, n_train))


def lr_at(cfg: RunConfig, step: int, total: int) -> float:
    """Learning rate for 0-based ``step`` of ``total`` (cosine to 0, step ×0.1, constant)."""
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * step / total))
    if cfg.schedule == "step":
        return cfg.lr * (0.1 ** ((step >= total // 2) + (step >= (3 * total) // 4)))
    return cfg.lr


def make_optimizer(cfg: RunConfig, params) -> torch.optim.Optimizer:
    """Adam or SGD+momentum with the fastest available multi-tensor kernel."""
    params = [p for p in params if p.requires_grad]
    if cfg.optimizer == "adam":
        cls, kwargs = torch.optim.Adam, {"weight_decay": cfg.weight_decay}
    else:
        cls, kwargs = torch.optim.SGD, {"momentum": cfg.momentum, "weight_decay": cfg.weight_decay}
    try:
        return cls(params, lr=cfg.lr, fused=True, **kwargs)
    except (RuntimeError, TypeError, ValueError):  # fused unsupported for this device/dtype
        return cls(params, lr=cfg.lr, foreach=True, **kwargs)


#: most input elements (of all seeds together) one evaluation batch holds: 8 MB of float32
EVAL_ELEMENTS = 2**21


def eval_rows(x: torch.Tensor, seeds: int = 1, most: int = 1000) -> int:
    """Rows per evaluation batch of ``x`` ``(N, ...)`` for a model of ``seeds`` fused seeds:
    ``most``, fewer when a batch would exceed :data:`EVAL_ELEMENTS` input elements. A 1000-row
    batch of 3x32x32 images through two fused width-64 seeds made convolution buffers over
    1 GiB, which the allocator maps and unmaps on every evaluation (376k page faults, twice
    the time of 500 rows); MNIST-1D keeps 1000 rows."""
    per_row = max(1, seeds * (x[0].numel() if x.shape[0] else 1))
    return max(1, min(most, EVAL_ELEMENTS // per_row))


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int | None = None
) -> tuple[float, float]:
    """Accuracy (fraction) and mean cross-entropy of ``model`` on ``(x, y)`` in eval mode,
    ``batch_size`` rows at a time (default :func:`eval_rows`)."""
    batch_size = batch_size or eval_rows(x)
    was_training = model.training
    model.eval()
    correct = torch.zeros((), device=x.device)
    loss = torch.zeros((), device=x.device, dtype=torch.float64)
    for start in range(0, x.shape[0], batch_size):
        logits = model(x[start : start + batch_size])
        target = y[start : start + batch_size]
        loss += F.cross_entropy(logits.float(), target, reduction="sum").double()
        correct += (logits.argmax(1) == target).sum()
    model.train(was_training)
    n = max(1, x.shape[0])
    return float(correct) / n, float(loss) / n


def train(
    model: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    cfg: RunConfig,
    *,
    x_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
    on_progress: Callable[[int, int, float], None] | None = None,
    logger: Any = None,
) -> TrainResult:
    """Train ``model`` in place on tensors already on its device; return the curve.

    ``x_train`` is ``(N, C, *spatial)``, ``y_train`` ``(N,)`` int64. If test tensors are
    given, test accuracy is measured ``cfg.eval_points`` times for the learning curve.
    ``on_progress(step, total, loss)`` is called at every log point; ``logger.log_scalars(step,
    dict)`` (e.g. :class:`poolstride.experiment.tensorboard.TensorBoardLogger`), if given, gets
    the training loss and learning rate there and test accuracy/loss at evaluations. Raises :class:`Diverged`
    when the summed loss over a log window is not finite.
    """
    device = x_train.device
    n = x_train.shape[0]
    batch = min(cfg.batch_size, n)
    per_epoch = max(1, n // batch)  # drop the ragged last batch: every step sees `batch` rows
    total = total_steps(cfg, n)
    log_every = max(1, min(cfg.log_every, total))
    eval_every = max(1, total // cfg.eval_points) if x_test is not None else 0

    order_gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    aug_gen = torch.Generator(device=device).manual_seed(cfg.seed + 7919)
    augment = make_augment(cfg.augment, cfg.max_shift, aug_gen)
    opt = make_optimizer(cfg, model.parameters())

    curve: dict[str, list] = {
        "step": [],
        "train_loss": [],
        "eval_step": [],
        "test_acc": [],
        "test_loss": [],
        "lr": [],
    }
    loss_sum = torch.zeros((), device=device)
    window = 0
    last_loss = math.nan
    perm = None
    model.train()
    synchronize(device)
    usage = LoopUsage()
    usage.resume()
    for step in range(total):
        pos = step % per_epoch
        if pos == 0:
            perm = torch.randperm(n, generator=order_gen).to(device, non_blocking=True)
        idx = perm[pos * batch : (pos + 1) * batch]
        xb, yb = x_train[idx], y_train[idx]
        if augment is not None:
            xb = augment(xb)
        lr = lr_at(cfg, step, total)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach()
        window += 1
        done = step + 1
        if done % log_every == 0 or done == total:
            last_loss = float(loss_sum) / window  # the only host sync in the loop
            if not math.isfinite(last_loss):
                raise Diverged(
                    f"training loss became {last_loss} by step {done} "
                    f"(lr={cfg.lr:g}, {cfg.optimizer})"
                )
            curve["step"].append(done)
            curve["train_loss"].append(last_loss)
            curve["lr"].append(lr)
            loss_sum.zero_()
            window = 0
            if on_progress is not None:
                on_progress(done, total, last_loss)
            if logger is not None:
                logger.log_scalars(done, {"train/loss": last_loss, "train/lr": lr})
        if (
            eval_every
            and (done % eval_every == 0 or done == total)
            and (not curve["eval_step"] or curve["eval_step"][-1] != done)
        ):
            usage.pause()
            acc, test_loss = evaluate(model, x_test, y_test)
            model.train()
            usage.resume()
            curve["eval_step"].append(done)
            curve["test_acc"].append(acc)
            curve["test_loss"].append(test_loss)
            if logger is not None:
                logger.log_scalars(done, {"test/acc": acc, "test/loss": test_loss})
    synchronize(device)
    usage.pause()
    return TrainResult(
        steps=total,
        epochs=total / per_epoch,
        final_train_loss=last_loss,
        curve=curve,
        **usage.per_run(),
    )
