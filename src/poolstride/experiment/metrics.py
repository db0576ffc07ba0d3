"""Everything measured on a trained model, as one flat-ish dict stored with the run.

Keys (scalars unless noted):

=================================  ===========================================================
``test_acc`` / ``test_loss``       accuracy (fraction) and mean cross-entropy on the test set
``final_train_loss``               mean training loss over the last log window
``params`` / ``macs``              trainable parameters; MACs of one forward pass of one input
                                   (conv/linear MACs, pooling = one op per window element)
``cost_method``                    which tool counted MACs
``train_time_s``                   training wall time (periodic test evaluations excluded)
``train_cpu_s``                    CPU time of the same (all threads; steadier than wall time
                                   on a shared machine)
``train_user_s`` / ``_system_s``   user / kernel CPU seconds of the same loop (all threads)
``train_system_share``             ``system / (user + system)``: the share of the loop's CPU
                                   time spent in the kernel (page faults, mostly)
``train_minor_faults``             minor page faults during the loop (per seed when fused)
``allocator``                      the training process's allocator: ``retain`` or ``default``
                                   (:mod:`poolstride.experiment.allocator`)
``steps`` / ``epochs``             optimiser steps taken; passes over the training set
``throughput_sps``                 inference samples per second (eval mode, batch 1000 or less)
``peak_memory_mb``                 CUDA: peak allocated by this run; CPU: process peak RSS
``peak_memory_source``             ``cuda_max_allocated`` or ``process_max_rss``
``shift_consistency_circular``     same class under two random circular shifts (fraction)
``shift_consistency_crop``         same class under two random crop-style shifts (fraction)
``consistency_by_offset``          dict: ``offsets`` list and, per mode, the fraction of
                                   predictions unchanged at each offset
``feature_stability``              dict: downsampling layer -> relative L2 change of its output
                                   under a one-sample circular shift of the input
``grad_norm_init`` / ``_final``    dict: layer -> gradient norm on a fixed batch
``curve``                          dict of lists: step, train_loss, lr, eval_step, test_acc,
                                   test_loss
``device``                         where it ran (``cpu``, ``cuda:0``)
``step_ms``                        one training step (forward + backward of one batch) in ms,
                                   median over rounds, in the fastest configuration
``step_config``                    that configuration: ``"<memory format>, <kernels> pooling"``
                                   (e.g. ``channels_last, poolstride pooling``)
``step_ms_by_config``              dict: configuration -> median step ms (every one timed)
``downsampling_kernels``           list: ``"op (layout): kernel"`` (plus PyTorch's reason) of
                                   each distinct pooling call in the fastest configuration
=================================  ===========================================================
"""

from __future__ import annotations

import resource
import sys
import time
from typing import Any

import torch
import torch.nn as nn

from poolstride.analysis.profile_table import profile
from poolstride.analysis.shift_consistency import (
    consistency_by_offset,
    feature_stability,
    shift_consistency,
)
from poolstride.experiment.device import synchronize
from poolstride.experiment.train import evaluate


def count_cost(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Parameters and MACs of one forward pass of one input of ``input_shape``.

    Uses :func:`poolstride.analysis.profile` (the project's cost convention); falls back to
    PyTorch's FlopCounterMode (conv/linear only, MACs = FLOPs / 2) if profiling fails.
    """
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    try:
        totals = profile(model, tuple(input_shape)).totals
        get = totals.get if isinstance(totals, dict) else lambda k, d=None: getattr(totals, k, d)
        macs = get("macs")
        pool_ops = get("pool_ops", get("pooling_ops", 0)) or 0
        if macs is not None:
            return {
                "params": params,
                "macs": int(macs),
                "pool_ops": int(pool_ops),
                "cost_method": "poolstride.analysis.profile",
            }
    except Exception:  # noqa: BLE001 - profiling is best effort; fall back below
        pass
    from torch.utils.flop_counter import FlopCounterMode

    device = next(model.parameters(), torch.zeros(())).device
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros((1, *input_shape), device=device))
    model.train(was_training)
    return {
        "params": params,
        "macs": int(counter.get_total_flops() // 2),
        "pool_ops": None,
        "cost_method": "torch FlopCounterMode (conv/linear only)",
    }


@torch.inference_mode()
def inference_throughput(
    model: nn.Module, x: torch.Tensor, min_time: float = 0.1, max_reps: int = 50
) -> float:
    """Samples per second of eval-mode forward passes over ``x`` (one warm-up pass)."""
    was_training = model.training
    model.eval()
    model(x)
    synchronize(x.device)
    reps, start = 0, time.perf_counter()
    while True:
        model(x)
        reps += 1
        synchronize(x.device)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or reps >= max_reps:
            break
    model.train(was_training)
    return reps * x.shape[0] / elapsed


def peak_memory(device: torch.device) -> tuple[float, str]:
    """Peak memory in MiB and what it means (CUDA allocator peak, else process RSS peak)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "cuda_max_allocated"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is KiB on Linux, bytes on macOS
    return (rss / 2**20 if sys.platform == "darwin" else rss / 2**10), "process_max_rss"


def measure(
    model: nn.Module,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    input_shape: tuple[int, ...],
    max_shift: int,
    shift_samples: int,
    seed: int,
) -> dict[str, Any]:
    """Test metrics, cost, throughput and shift metrics of a trained ``model``."""
    acc, loss = evaluate(model, x_test, y_test)
    out: dict[str, Any] = {"test_acc": acc, "test_loss": loss}
    out.update(count_cost(model, input_shape))
    out["throughput_sps"] = inference_throughput(model, x_test[:1000])
    xs = x_test[:shift_samples]
    gen = torch.Generator().manual_seed(10_007 + seed)
    offsets = list(range(-max_shift, max_shift + 1))
    by_offset: dict[str, Any] = {"offsets": offsets}
    for mode in ("circular", "crop"):
        out[f"shift_consistency_{mode}"] = shift_consistency(
            model, xs, max_shift=max_shift, mode=mode, generator=gen
        )
        by_offset[mode] = list(consistency_by_offset(model, xs, offsets, mode=mode).values())
    out["consistency_by_offset"] = by_offset
    out["feature_stability"] = feature_stability(model, xs[:256], step=1, mode="circular")
    return out
