"""Batched seeds: the S seeds of one variant trained as ONE channel-grouped model.

Why: the default grid trains small CNNs whose steps cost far more in per-op Python and
dispatch overhead than in arithmetic. Training S seeds as one model pays that overhead once
per step instead of S times, and hands the kernels S-times-larger tensors.

How (seed fusion): seed ``s`` owns channel group ``s`` of every layer, so a fused activation
is ``(N, S*C, *spatial)`` with channels ``[seed 0's C | seed 1's C | ...]``:

- ``ConvNd(C, D, groups=g)``      -> ``ConvNd(S*C, S*D, groups=S*g)`` (weights concatenated)
- ``BatchNormNd(C)``              -> ``BatchNormNd(S*C)`` (per-channel, so per-seed statistics)
- ``Linear(F, K)``                -> :class:`FusedLinear` (one batched matmul, S blocks)
- per-channel ops (ReLU, pooling, blur, space-to-depth, gap/gmp/flatten heads): unchanged
- ``mixed`` (one α per layer) / ``gated`` (one shared gate): one α / gate per seed
- ``catavgmax`` head: concatenated per seed, so each seed's features stay in its group

Row ``n`` of a fused batch holds sample ``n`` of EACH seed's own batch (each seed keeps its own
data order and augmentation generators), the loss is ``sum_s mean_n CE(seed s)``, so the
gradient of seed ``s``'s weights is exactly the gradient of its own run; Adam and SGD are
element-wise, so one optimiser over the concatenated parameters is S independent ones.
Result: the same per-seed weights and losses as separate runs, up to floating-point
reordering (checked in float64 by ``tests/experiment/test_batched.py`` against
:func:`poolstride.experiment.train.train`).

Modules this file does not know (or dropout, whose masks would come from one shared RNG)
make :func:`fusion_blocker` return a reason; the caller then trains those seeds one by one.

Every fused tensor is the per-seed tensors concatenated along dim 0 (0-d parameters stacked),
with the same ``state_dict`` names, so :func:`split_state` recovers seed ``s``'s model exactly.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from poolstride.errors import unknown
from poolstride.experiment.augment import make_augment
from poolstride.experiment.config import RunConfig
from poolstride.experiment.device import synchronize
from poolstride.experiment.train import LoopUsage, eval_rows, lr_at, make_optimizer, total_steps
from poolstride.layers.dims import CONV_FN
from poolstride.layers.functional import avg_pool, max_pool
from poolstride.layers.heads import CatAvgMaxPool
from poolstride.layers.kinds import CHANNELWISE_CLASSES
from poolstride.layers.learnable import GatedPool, MixedPool
from poolstride.models.classifier import Classifier, ClassifierHead
from poolstride.models.resnet import BasicBlock

_CONVS = (nn.Conv1d, nn.Conv2d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
# Parameter-free modules that act on each channel (or each element) on its own.
_ELEMENTWISE = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.Hardswish,
    nn.Mish,
    nn.Identity,
)


# --------------------------------------------------------------------------------------
# fused modules
# --------------------------------------------------------------------------------------
class FusedLinear(nn.Module):
    """S independent ``Linear(in_features, out_features)`` as one batched matmul.

    ``weight``: ``(S*out, in)`` (seed ``s``'s rows ``s*out:(s+1)*out``), ``bias``: ``(S*out,)``.
    ``(N, S*in) -> (N, S*out)``: ``y[:, s] = x[:, s] @ W_s.T + b_s``.
    """

    def __init__(self, seeds: int, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.seeds, self.in_features, self.out_features = seeds, in_features, out_features
        self.weight = nn.Parameter(torch.empty(seeds * out_features, in_features))
        self.bias = nn.Parameter(torch.empty(seeds * out_features)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, i, o = self.seeds, self.in_features, self.out_features
        xs = x.reshape(x.shape[0], s, i).transpose(0, 1)  # (S, N, in)
        w = self.weight.reshape(s, o, i).transpose(1, 2)  # (S, in, out)
        if self.bias is None:
            y = torch.bmm(xs, w)
        else:
            y = torch.baddbmm(self.bias.reshape(s, 1, o), xs, w)  # (S, N, out)
        return y.transpose(0, 1).reshape(x.shape[0], s * o)

    def extra_repr(self) -> str:
        return (
            f"seeds={self.seeds}, in_features={self.in_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


def _per_channel(values: torch.Tensor, channels: int, ndim: int) -> torch.Tensor:
    """``(S,)`` per-seed values -> ``(1, S*channels, 1, ...)`` broadcastable over a map."""
    return values.repeat_interleave(channels).reshape(1, -1, *([1] * (ndim - 2)))


class FusedMixedPool(MixedPool):
    """``mixed`` pooling with one α per seed (``alpha_logit``: ``(S,)``)."""

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        k, s, p, c = self.kernel_size, self.stride, self.padding, self.ceil_mode
        a = torch.sigmoid(self.alpha_logit).to(x.dtype)
        hi = max_pool(x, k, s, p, self.dilation, c)
        lo = avg_pool(x, k, s, p, c, self.count_include_pad)
        return torch.lerp(lo, hi, _per_channel(a, x.shape[1] // a.numel(), x.ndim))


class FusedGatedPool(GatedPool):
    """``gated`` pooling with one gate per seed (``gate_weight``: ``(S, 1, *k)``)."""

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        seeds = self.gate_bias.numel()
        per_seed = x.shape[1] // seeds
        # Seed s's single-channel mask, repeated for each of its channels (depthwise conv).
        weight = self.gate_weight.repeat_interleave(per_seed, dim=0).to(x.dtype)
        bias = self.gate_bias.repeat_interleave(per_seed).to(x.dtype)
        logits = CONV_FN[self.dim](
            x, weight, bias, stride=self.stride, padding=self.padding, groups=x.shape[1]
        )
        return torch.sigmoid(logits)


class FusedCatAvgMaxPool(CatAvgMaxPool):
    """``catavgmax`` head whose output keeps each seed's ``[avg | max]`` in its group."""

    seeds = 1

    def reduce(self, x: torch.Tensor) -> torch.Tensor:
        n, s = x.shape[0], self.seeds
        avg = x.mean(self._axes).reshape(n, s, -1)
        top = x.amax(self._axes).reshape(n, s, -1)
        return torch.cat((avg, top), dim=2).reshape(n, -1)


# --------------------------------------------------------------------------------------
# fusing and splitting
# --------------------------------------------------------------------------------------
#: Downsampling/head classes whose own forward treats channels independently (their
#: learnable children, e.g. ``conv`` or ``proj``, are fused separately).
_CHANNEL_AGNOSTIC = CHANNELWISE_CLASSES
#: Modules whose forward only composes children and adds/concatenates nothing across
#: channels (residual adds are element-wise).
_CONTAINERS = (nn.Sequential, Classifier, ClassifierHead, BasicBlock)
#: Modules with one parameter per layer (or a shared gate/concatenation) -> their fused class.
_FUSED_CLASS = {
    MixedPool: FusedMixedPool,
    GatedPool: FusedGatedPool,
    CatAvgMaxPool: FusedCatAvgMaxPool,
}


def fusion_blocker(model: nn.Module) -> str | None:
    """Why ``model`` cannot be seed-fused (``"module 'x.y' (Foo) ..."``), or None if it can."""
    agnostic, containers, special = _CHANNEL_AGNOSTIC, _CONTAINERS, tuple(_FUSED_CLASS)
    for name, module in model.named_modules():
        where = f"module {name or '<root>'!r} ({type(module).__name__})"
        if (
            module._forward_hooks
            or module._forward_pre_hooks
            or module._backward_hooks
            or getattr(module, "_backward_pre_hooks", None)
        ):
            return f"{where} has hooks, which a fused copy would not run per seed"
        if isinstance(module, _CONVS):
            if module.padding_mode != "zeros":
                return f"{where} uses padding_mode={module.padding_mode!r}"
        elif isinstance(module, _NORMS):
            if not module.track_running_stats and module.running_mean is not None:
                return f"{where} has an unusual running-statistics setup"
        elif isinstance(module, nn.Dropout):
            if module.p > 0:
                return f"{where}: dropout masks would not match separate runs"
        elif type(module) in (nn.Linear,) or isinstance(module, special):
            pass
        elif isinstance(module, agnostic) or isinstance(module, containers):
            if any(True for _ in module.parameters(recurse=False)):
                return f"{where} owns parameters this file cannot fuse"
        elif isinstance(module, _ELEMENTWISE):
            pass
        else:
            return f"{where} is not known to keep seeds' channels apart"
    return None


def _fused_module(module: nn.Module, seeds: int) -> nn.Module:
    """An uninitialised fused replacement for one module (children handled by the caller)."""
    if isinstance(module, _CONVS):
        cls = type(module)
        return cls(
            seeds * module.in_channels,
            seeds * module.out_channels,
            module.kernel_size,
            stride=module.stride,
            padding=module.padding,
            dilation=module.dilation,
            groups=seeds * module.groups,
            bias=module.bias is not None,
        )
    if isinstance(module, _NORMS):
        return type(module)(
            seeds * module.num_features,
            eps=module.eps,
            momentum=module.momentum,
            affine=module.affine,
            track_running_stats=module.track_running_stats,
        )
    if type(module) is nn.Linear:
        return FusedLinear(
            seeds, module.in_features, module.out_features, bias=module.bias is not None
        )
    fused = copy.copy(module)  # shallow: shares children dict, so give it its own
    fused._modules = dict(module._modules)
    fused._parameters = dict(module._parameters)
    fused._buffers = dict(module._buffers)
    for attr in ("in_channels", "out_channels"):
        if isinstance(getattr(module, attr, None), int):
            setattr(fused, attr, seeds * getattr(module, attr))
    for base, fused_class in _FUSED_CLASS.items():
        if isinstance(module, base):
            fused.__class__ = fused_class
            fused.seeds = seeds
            for pname, p in module._parameters.items():  # per-seed parameters, stacked
                shape = (seeds,) if p.ndim == 0 else (seeds * p.shape[0], *p.shape[1:])
                fused._parameters[pname] = nn.Parameter(p.new_empty(shape))
    return fused


def fuse_models(models: Sequence[nn.Module]) -> nn.Module:
    """One model whose channel group ``s`` is ``models[s]`` (same architecture, any weights).

    Input ``(N, S*C_in, *spatial)`` (seed-major channels), output ``(N, S*K)``. Raises
    ``ValueError`` naming the module when :func:`fusion_blocker` finds one it cannot fuse.
    """
    seeds = len(models)
    reason = fusion_blocker(models[0])
    if reason is not None:
        raise ValueError(f"cannot fuse seeds: {reason}")
    fused = _rebuild(models[0], seeds)
    fused.load_state_dict(stack_states([m.state_dict() for m in models], fused.state_dict()))
    return fused.to(next(models[0].parameters()).device)


def _rebuild(module: nn.Module, seeds: int) -> nn.Module:
    out = _fused_module(module, seeds)
    for name, child in module.named_children():
        out._modules[name] = _rebuild(child, seeds)
    return out


def stack_states(
    states: Sequence[dict[str, torch.Tensor]], like: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Per-seed state dicts -> the fused one (shapes taken from ``like``)."""
    out = {}
    for key, target in like.items():
        parts = [sd[key] for sd in states]
        if parts[0].shape == target.shape:  # shared 0-d buffer (num_batches_tracked)
            out[key] = parts[0]
        elif parts[0].ndim == 0:
            out[key] = torch.stack(parts)
        else:
            out[key] = torch.cat(parts, dim=0)
    return out


def split_state(
    fused: dict[str, torch.Tensor], like: dict[str, torch.Tensor], seed_index: int
) -> dict[str, torch.Tensor]:
    """Seed ``seed_index``'s state dict out of a fused one (shapes taken from ``like``)."""
    out = {}
    for key, target in like.items():
        value = fused[key]
        if value.shape == target.shape:
            out[key] = value.clone()
        elif target.ndim == 0:
            out[key] = value[seed_index].clone()
        else:
            rows = target.shape[0]
            out[key] = value[seed_index * rows : (seed_index + 1) * rows].clone()
    return out


def unfuse_into(fused: nn.Module, models: Sequence[nn.Module]) -> None:
    """Copy each seed's trained weights and buffers from ``fused`` back into ``models[s]``."""
    state = fused.state_dict()
    for s, model in enumerate(models):
        model.load_state_dict(split_state(state, model.state_dict(), s))


def seed_major(x: torch.Tensor) -> torch.Tensor:
    """``(S, N, C, *spatial)`` per-seed batches -> fused ``(N, S*C, *spatial)``."""
    s, n, c = x.shape[:3]
    return x.transpose(0, 1).reshape(n, s * c, *x.shape[3:])


# --------------------------------------------------------------------------------------
# the fused training loop (mirrors poolstride.experiment.train.train step for step)
# --------------------------------------------------------------------------------------
@dataclass
class SeedResult:
    """What the fused loop measured for one seed (``diverged``: the message, else '')."""

    steps: int
    epochs: float
    train_time_s: float
    train_cpu_s: float
    final_train_loss: float
    diverged: str = ""
    curve: dict[str, list] = field(default_factory=dict)
    train_user_s: float = 0.0
    train_system_s: float = 0.0
    train_minor_faults: int = 0


def autocast_context(device: torch.device, amp: str):
    """``torch.autocast`` for ``amp='bf16'`` (CPU or CUDA), else a no-op context."""
    if amp in (None, "none"):
        return nullcontext()
    if amp != "bf16":
        raise unknown("amp", amp, ("none", "bf16"))
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def to_memory_format(t: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """Channels-last for 4-D (2D image) tensors when asked; 1D data has no such layout."""
    return t.contiguous(memory_format=torch.channels_last) if channels_last and t.ndim == 4 else t


@torch.no_grad()
def evaluate_fused(
    fused: nn.Module,
    seeds: int,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int | None = None,
    amp: str = "none",
    channels_last: bool = False,
) -> list[tuple[float, float]]:
    """Per seed ``(accuracy, mean cross-entropy)`` on ``(x, y)`` in eval mode (as ``evaluate``),
    ``batch_size`` rows at a time (default :func:`~poolstride.experiment.train.eval_rows`)."""
    batch_size = batch_size or eval_rows(x, seeds)
    was_training = fused.training
    fused.eval()
    correct = torch.zeros(seeds, dtype=torch.long, device=x.device)
    loss = torch.zeros(seeds, dtype=torch.float64, device=x.device)
    for start in range(0, x.shape[0], batch_size):
        xb, target = x[start : start + batch_size], y[start : start + batch_size]
        xb = to_memory_format(xb.repeat(1, seeds, *([1] * (x.ndim - 2))), channels_last)
        with autocast_context(x.device, amp):
            logits = fused(xb)
        # float32 like poolstride.experiment.train.evaluate, so stored numbers agree
        logits = logits.float().reshape(xb.shape[0], seeds, -1)
        per = F.cross_entropy(
            logits.transpose(1, 2), target[:, None].expand(-1, seeds), reduction="none"
        )  # (n, S)
        loss += per.double().sum(0)
        correct += (logits.argmax(2) == target[:, None]).sum(0)
    fused.train(was_training)
    n = max(1, x.shape[0])
    return [(float(c) / n, float(v) / n) for c, v in zip(correct.tolist(), loss.tolist())]


def train_fused(
    fused: nn.Module,
    cfgs: Sequence[RunConfig],
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    *,
    x_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
    on_progress: Callable[[int, int, float], None] | None = None,
    channels_last: bool = False,
    amp: str = "none",
    loggers: Sequence[Any] | None = None,
) -> list[SeedResult]:
    """Train the seed-fused model ``fused`` of ``len(cfgs)`` runs (same config but the seed).

    Each seed draws its batches and augmentation from its own generators, seeded exactly as
    :func:`~poolstride.experiment.train.train` seeds them, and follows the same schedule, so
    seed ``s`` ends where its separate run would. A seed whose loss window becomes NaN/inf is
    reported ``diverged`` (at the same log point where a separate run would raise) while the
    others go on. ``train_time_s`` / ``train_cpu_s`` are the fused wall / CPU times divided by the seeds
    (so are the user / system seconds and minor page faults).
    With ``len(cfgs) == 1`` any model works (nothing needs fusing). ``loggers[s]``, if
    given, receives seed ``s``'s scalars as in ``train`` (``log_scalars(step, {...})``).
    """
    cfg = cfgs[0]
    seeds = len(cfgs)
    device = x_train.device
    n = x_train.shape[0]
    batch = min(cfg.batch_size, n)
    per_epoch = max(1, n // batch)
    total = total_steps(cfg, n)
    log_every = max(1, min(cfg.log_every, total))
    eval_every = max(1, total // cfg.eval_points) if x_test is not None else 0

    order_gens = [torch.Generator(device="cpu").manual_seed(c.seed) for c in cfgs]
    augments = [
        make_augment(
            c.augment, c.max_shift, torch.Generator(device=device).manual_seed(c.seed + 7919)
        )
        for c in cfgs
    ]
    opt = make_optimizer(cfg, fused.parameters())
    curves = [
        {"step": [], "train_loss": [], "eval_step": [], "test_acc": [], "test_loss": [], "lr": []}
        for _ in cfgs
    ]
    diverged = [""] * seeds
    last_loss = [math.nan] * seeds
    loss_sum = torch.zeros(seeds, device=device)
    window = 0
    perms = None
    fused.train()
    synchronize(device)
    usage = LoopUsage()
    usage.resume()
    done = 0
    for step in range(total):
        pos = step % per_epoch
        if pos == 0:
            perms = torch.stack([torch.randperm(n, generator=g) for g in order_gens])
            perms = perms.to(device, non_blocking=True)
        idx = perms[:, pos * batch : (pos + 1) * batch]  # (S, B)
        xb, yb = x_train[idx], y_train[idx]  # (S, B, C, ...), (S, B)
        if augments[0] is not None:
            xb = torch.stack([aug(xb[s]) for s, aug in enumerate(augments)])
        lr = lr_at(cfg, step, total)
        for group in opt.param_groups:
            group["lr"] = lr
        with autocast_context(device, amp):
            logits = fused(to_memory_format(seed_major(xb), channels_last))
        logits = _full_precision(logits).reshape(batch, seeds, -1)
        # Each seed's mean loss, summed: d(sum)/d(seed s's weights) = its own gradient.
        per_seed = F.cross_entropy(logits.transpose(1, 2), yb.t(), reduction="none").mean(0)
        opt.zero_grad(set_to_none=True)
        per_seed.sum().backward()
        opt.step()
        loss_sum += per_seed.detach()
        window += 1
        done = step + 1
        if done % log_every == 0 or done == total:
            means = (loss_sum / window).tolist()  # the only host sync in the loop
            for s, value in enumerate(means):
                if diverged[s]:
                    continue
                last_loss[s] = value
                if not math.isfinite(value):
                    diverged[s] = (
                        f"training loss became {value} by step {done} "
                        f"(lr={cfg.lr:g}, {cfg.optimizer})"
                    )
                    continue
                curves[s]["step"].append(done)
                curves[s]["train_loss"].append(value)
                curves[s]["lr"].append(lr)
                if loggers is not None and loggers[s] is not None:
                    loggers[s].log_scalars(done, {"train/loss": value, "train/lr": lr})
            loss_sum.zero_()
            window = 0
            if on_progress is not None:  # the seeds' mean loss of the window
                on_progress(done, total, sum(means) / len(means))
            if all(diverged):
                break
        if (
            eval_every
            and (done % eval_every == 0 or done == total)
            and (not curves[0]["eval_step"] or curves[0]["eval_step"][-1] != done)
        ):
            usage.pause()
            scores = evaluate_fused(
                fused, seeds, x_test, y_test, amp=amp, channels_last=channels_last
            )
            fused.train()
            usage.resume()
            for s, (acc, test_loss) in enumerate(scores):
                curves[s]["eval_step"].append(done)
                curves[s]["test_acc"].append(acc)
                curves[s]["test_loss"].append(test_loss)
                if loggers is not None and loggers[s] is not None:
                    loggers[s].log_scalars(done, {"test/acc": acc, "test/loss": test_loss})
    synchronize(device)
    usage.pause()
    return [
        SeedResult(
            steps=total,
            epochs=total / per_epoch,
            final_train_loss=last_loss[s],
            diverged=diverged[s],
            curve=curves[s],
            **usage.per_run(seeds),
        )
        for s in range(seeds)
    ]


def _full_precision(t: torch.Tensor) -> torch.Tensor:
    """Autocast's half-precision logits -> float32 for the loss; float32/64 unchanged."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


__all__ = [
    "FusedLinear",
    "SeedResult",
    "evaluate_fused",
    "fuse_models",
    "fusion_blocker",
    "seed_major",
    "split_state",
    "stack_states",
    "train_fused",
    "unfuse_into",
]
