"""Fast CPU pooling kernels vs PyTorch (NCHW and channels-last), timm, kornia and a copy.

Every variant of a case runs in the same process on the same tensor; repetitions are
interleaved (variants shuffled each round) and medians reported, so the ratios printed side
by side share the machine's conditions. Speed targets (issue 8, 2 threads): max/avg
forward+backward >= 10x PyTorch NCHW and >= 2x PyTorch channels-last; blur >= 3x timm's
BlurPool2d / kornia's MaxBlurPool2D. Nothing here is asserted; it prints.

    .venv/bin/python bench/kernels.py                 # (32, 64, 56, 56) float32, 2 threads
    .venv/bin/python bench/kernels.py --reps 31 --threads 1 --shape 8,64,56,56
    .venv/bin/python bench/kernels.py --e2e           # + training the `simple` model on CPU
    .venv/bin/python bench/kernels.py --keep-freed-memory   # glibc keeps freed memory
    .venv/bin/python bench/kernels.py --split --only max,avg  # where fwd+bwd time goes
    .venv/bin/python bench/kernels.py --compile       # first-call (compile/load) latency
    .venv/bin/python bench/kernels.py --forms --reps 21 --burst 2  # max 3x3/2 forward forms
    .venv/bin/python bench/kernels.py --shape 32,64,224,224 --only max,avg --reps 5 \
        --burst 2 --threads 1 --keep-freed-memory     # a DRAM-resident input (411 MB)

The memory floor printed for each op is measured with a copy of the input, so it is only a
*memory* floor when the input does not fit in the last-level cache: the default shape is
26 MB, cache-resident on a machine with a large L3 (the development VM reports 300 MB), where
the floor is a cache-speed copy. To see the distance to the DRAM floor (what a laptop with an
8-16 MB L3 sees for real activations), run at a shape larger than the L3, as above.

timm and kornia are optional (``pip install 'poolstride[bench]'``); missing ones are skipped.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from poolstride import kernels


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _forward(op, x):
    def run():
        with torch.no_grad():
            op(x)

    return run


def _forward_backward(op, x):
    leaf = x.detach().requires_grad_()
    with torch.no_grad():
        # upstream gradient in the output's own layout, made once outside the timing
        grad = torch.ones_like(op(leaf))

    def run():
        leaf.grad = None
        op(leaf).backward(grad)

    return run


def measure(variants: dict[str, tuple[Callable, torch.Tensor]], reps: int, burst: int = 1):
    """Median seconds per (variant, "fwd" | "fwd+bwd"), all timings of a case interleaved:
    each round runs every (variant, mode) once, in a fresh random order.

    ``burst`` > 1 times each as the fastest of ``burst`` back-to-back calls within its turn:
    the steady state of a training loop running the same layer every step, where the
    allocator reuses the memory of the previous step and PyTorch's OpenMP workers are in
    their usual state. The first calls after another variant are slower for every variant
    (fresh pages, ~6,000 page faults for a 26 MB gradient, cost several ms; caches; threads
    still spinning in another pool), and with ``burst=3`` that noise still reached the
    medians on the 2-core VM; 8 settles it.
    """
    runs = {}
    for name, (op, x) in variants.items():
        runs[name, "fwd"] = _forward(op, x)
        if name != "copy":
            runs[name, "fwd+bwd"] = _forward_backward(op, x)
    for run in runs.values():  # warm-up: compile, allocator, caches
        run()
        run()
    times = {key: [] for key in runs}
    order = list(runs)
    for _ in range(reps):
        random.shuffle(order)
        for key in order:
            times[key].append(min(_timed(runs[key]) for _ in range(burst)))
    return {key: statistics.median(t) for key, t in times.items()}


def _copy(x):
    return x.clone()


def cases(x: torch.Tensor) -> dict[str, dict[str, tuple[Callable, torch.Tensor]]]:
    """Case name -> variant name -> (op, input). 'ours' runs poolstride.kernels."""
    cl = x.contiguous(memory_format=torch.channels_last)
    table = {}
    for label, ours, ref in [
        ("max 2x2/2", lambda t: kernels.max_pool(t, 2, 2), lambda t: F.max_pool2d(t, 2, 2)),
        (
            "max 3x3/2 p1",
            lambda t: kernels.max_pool(t, 3, 2, 1),
            lambda t: F.max_pool2d(t, 3, 2, 1),
        ),
        ("avg 2x2/2", lambda t: kernels.avg_pool(t, 2, 2), lambda t: F.avg_pool2d(t, 2, 2)),
        (
            "avg 3x3/2 p1",
            lambda t: kernels.avg_pool(t, 3, 2, 1),
            lambda t: F.avg_pool2d(t, 3, 2, 1),
        ),
    ]:
        table[label] = {
            "ours NCHW": (ours, x),
            "ours CL": (ours, cl),
            "torch NCHW": (ref, x),
            "torch CL": (ref, cl),
            "copy": (_copy, x),
        }
    blur = {
        "ours NCHW": (lambda t: kernels.blur_pool(t, 3, 2, padding=(1, 1)), x),
        "ours CL": (lambda t: kernels.blur_pool(t, 3, 2, padding=(1, 1)), cl),
        "torch NCHW": (lambda t: kernels.fallback.blur_pool(t, (0.25, 0.5, 0.25), 2), x),
        "copy": (_copy, x),
    }
    maxblur = {
        "ours NCHW": (lambda t: kernels.max_blur_pool(t, 3, 2, 1, pad_mode="zeros"), x),
        "ours CL": (lambda t: kernels.max_blur_pool(t, 3, 2, 1, pad_mode="zeros"), cl),
        "copy": (_copy, x),
    }
    try:
        from timm.layers import BlurPool2d

        timm_blur = BlurPool2d(x.shape[1], filt_size=3, stride=2)
        blur["timm NCHW"] = (timm_blur, x)
        blur["timm CL"] = (timm_blur, cl)
    except ImportError:
        print("timm not installed: blur vs timm skipped (pip install 'poolstride[bench]')")
    try:
        from kornia.filters import MaxBlurPool2D

        kornia_blur = MaxBlurPool2D(3)
        maxblur["kornia NCHW"] = (kornia_blur, x)
        maxblur["kornia CL"] = (kornia_blur, cl)
    except ImportError:
        print("kornia not installed: max-blur vs kornia skipped (pip install 'poolstride[bench]')")
    table["blur 3/2 (timm BlurPool2d)"] = blur
    table["max2/1 + blur 3/2 (kornia MaxBlurPool2D)"] = maxblur
    return table


_RATIOS = [
    ("ours NCHW", "torch NCHW"),
    ("ours CL", "torch CL"),
    ("ours NCHW", "torch CL"),
    ("ours NCHW", "timm NCHW"),
    ("ours CL", "timm CL"),
    ("ours NCHW", "kornia NCHW"),
    ("ours CL", "kornia CL"),
]


# (case prefix, ours, baseline, target ratio): the targets, checked on fwd+bwd.
_TARGETS = [
    ("max", "ours NCHW", "torch NCHW", 10),
    ("max", "ours CL", "torch CL", 2),
    ("avg", "ours NCHW", "torch NCHW", 10),
    ("avg", "ours CL", "torch CL", 2),
    ("blur", "ours NCHW", "timm NCHW", 3),
    ("blur", "ours CL", "timm CL", 3),
    ("max2/1 + blur", "ours NCHW", "kornia NCHW", 3),
    ("max2/1 + blur", "ours CL", "kornia CL", 3),
]


def _saved_bytes(y: torch.Tensor, x: torch.Tensor) -> int:
    """Bytes autograd saved for the backward of ``y`` besides the input ``x`` itself (max
    pooling's argmax; nothing for average pooling)."""
    saved = getattr(y.grad_fn, "saved_tensors", ()) if y.grad_fn is not None else ()
    return sum(t.numel() * t.element_size() for t in saved if t.data_ptr() != x.data_ptr())


def memory_floor_ratios(variants, fwd, fb) -> dict[str, tuple[float, float, float, float]]:
    """``ours`` forward+backward time over the time of moving its unavoidable bytes.

    The floor: forward reads x and writes y, backward reads dL/dy and writes dL/dx, so
    2|x| + 2|y| bytes; a copy of the input moves 2|x| bytes in the measured ``copy`` time, so
    the floor is ``copy * (1 + |y| / |x|)`` (1.25 copies for a stride-2 2D pool). The
    argmax max pooling saves for its backward (written forward, read backward: 2|idx|
    bytes) is not in that floor; the second floor adds it (``copy * (1 + |y|/|x| +
    |idx|/|x|)`` in bytes: 1.3125 copies for uint8 taps of a float32 stride-2 pool).
    Returns ``{variant: (ratio, floor ms, ratio with saved bytes, that floor ms)}``.
    """
    out = {}
    for name, (op, x) in variants.items():
        if not name.startswith("ours") or name not in fb or "copy" not in fwd:
            continue
        leaf = x.detach().requires_grad_()
        y = op(leaf)
        x_bytes = x.numel() * x.element_size()
        floor = fwd["copy"] * (1 + y.numel() / x.numel())
        with_saved = floor + fwd["copy"] * _saved_bytes(y, leaf) / x_bytes
        out[name] = (fb[name] / floor, floor * 1e3, fb[name] / with_saved, with_saved * 1e3)
    return out


def split_times(variants, reps: int, burst: int) -> dict[str, tuple[float, float, float]]:
    """Where each ``ours`` variant's forward+backward time goes: ``{variant: (forward
    kernels, backward kernels, the rest)}`` in seconds, medians over interleaved rounds of
    the fastest of ``burst`` calls (the rest: allocating outputs, indices and the input
    gradient, autograd, Python). Kernel time is the time inside
    ``poolstride.kernels.threads.run``, which every kernel call goes through."""
    from poolstride.kernels import threads

    inside = [0.0]
    run = threads.run

    def timed_run(*args, **kwargs):
        start = time.perf_counter()
        try:
            run(*args, **kwargs)
        finally:
            inside[0] += time.perf_counter() - start

    def one_call(op, leaf, grad):
        leaf.grad = None
        inside[0] = 0.0
        start = time.perf_counter()
        y = op(leaf)
        forward = inside[0]
        y.backward(grad)
        return time.perf_counter() - start, forward, inside[0] - forward

    calls = {}
    for name, (op, x) in variants.items():
        if name.startswith("ours"):
            leaf = x.detach().requires_grad_()
            with torch.no_grad():
                grad = torch.ones_like(op(leaf))
            calls[name] = (op, leaf, grad)
    rounds = {name: [] for name in calls}
    threads.run = timed_run
    try:
        for call in calls.values():
            one_call(*call)
        order = list(calls)
        for _ in range(reps):
            random.shuffle(order)
            for name in order:
                rounds[name].append(min(one_call(*calls[name]) for _ in range(burst)))
    finally:
        threads.run = run
    out = {}
    for name, samples in rounds.items():
        total, forward, backward = (statistics.median(s[i] for s in samples) for i in range(3))
        out[name] = (forward, backward, total - forward - backward)
    return out


def run_kernels(args) -> None:
    shape = tuple(int(s) for s in args.shape.split(","))
    x = torch.randn(shape, dtype=getattr(torch, args.dtype))
    print(
        f"shape {shape} {args.dtype}, torch threads {torch.get_num_threads()}, "
        f"{args.reps} interleaved rounds (each: best of {args.burst} back-to-back calls), "
        f"medians in ms; ratio = baseline time / ours"
    )
    summary = []
    for label, variants in cases(x).items():
        if args.only and not any(label.startswith(o) for o in args.only.split(",")):
            continue
        medians = measure(variants, args.reps, args.burst)
        fwd = {name: medians[name, "fwd"] for name in variants}
        fb = {name: medians[name, "fwd+bwd"] for name in variants if name != "copy"}
        print(f"\n{label}")
        print(f"  {'variant':<12}{'forward':>10}{'fwd+bwd':>10}")
        for name in variants:
            fb_ms = f"{fb[name] * 1e3:10.2f}" if name in fb else f"{'':>10}"
            print(f"  {name:<12}{fwd[name] * 1e3:10.2f}{fb_ms}")
        for ours, base in _RATIOS:
            if ours in fwd and base in fwd:
                print(
                    f"  {base} / {ours}: forward {fwd[base] / fwd[ours]:5.1f}x, "
                    f"fwd+bwd {fb[base] / fb[ours]:5.1f}x"
                )
        if "ours NCHW" in fwd:
            print(
                f"  copy / ours NCHW forward: {fwd['copy'] / fwd['ours NCHW']:.2f} "
                f"(1.0 = as fast as copying the input once)"
            )
        floors = memory_floor_ratios(variants, fwd, fb)
        for name, (ratio, floor_ms, ratio_saved, saved_ms) in floors.items():
            print(
                f"  {name} fwd+bwd / memory floor ({floor_ms:.2f} ms): {ratio:.2f} "
                f"(1.0 = only the unavoidable bytes moved; issue 19 aims at <= 1.3)"
            )
            if saved_ms > floor_ms:
                print(
                    f"  {name} fwd+bwd / floor with the saved argmax ({saved_ms:.2f} ms): "
                    f"{ratio_saved:.2f}"
                )
        if args.split and not label.startswith(("blur", "max2/1")):
            copy_ms = fwd["copy"] * 1e3
            for name, parts in split_times(variants, args.reps, args.burst).items():
                forward, backward, rest = (part * 1e3 for part in parts)
                print(
                    f"  {name} fwd+bwd split: forward kernel {forward:.2f} ms "
                    f"({forward / copy_ms:.2f} copies), backward kernel {backward:.2f} "
                    f"({backward / copy_ms:.2f}), the rest {rest:.2f} ({rest / copy_ms:.2f}: "
                    f"allocation, autograd, Python)"
                )
        for prefix, ours, base, target in _TARGETS:
            if label.startswith(prefix) and ours in fb and base in fb:
                summary.append((f"{label}: {base} / {ours}", fb[base] / fb[ours], target))
    if summary:
        print("\ntargets (forward+backward, issue 8)")
        for name, ratio, target in summary:
            verdict = "met" if ratio >= target else "not met"
            print(f"  {name:<58}{ratio:5.1f}x  target {target}x: {verdict}")


def run_forms(args) -> None:
    """The NCHW max 3x3/2 p1 forward's two kernel forms side by side: the separable
    ``max_fwd_rows`` (row maxima, then columns; what ``kernels.max_pool`` runs) and the
    column-pair ``max_fwd_pairs`` it replaced, each called directly over all planes on this
    thread, with a ``copy_`` of the input into a preallocated tensor as the unit. Rounds
    interleaved (shuffled), each the fastest of ``burst`` calls; medians."""
    import numpy as np

    from poolstride.kernels import generated
    from poolstride.kernels.call_plan import PAIRS, ROWS

    n, c, h, w = (int(s) for s in args.shape.split(","))
    if w % 2:
        raise SystemExit("--forms needs an even width (column pairs)")
    x = torch.randn((n, c, h, w), dtype=getattr(torch, args.dtype))
    table = generated.pool_kernels((3, 3), (2, 2), (1, 1), (1, 1))
    planes = x.reshape(n * c, h, w).numpy()
    pairs = planes.view(np.complex64 if planes.dtype == np.float32 else np.complex128)
    out_shape = (n * c, (h - 1) // 2 + 1, w // 2)
    results = {
        form: (np.empty(out_shape, planes.dtype), np.empty(out_shape, np.uint8))
        for form in ("rows", "pairs")
    }
    target = torch.empty_like(x)
    runs = {
        "rows": lambda: table["max", "fwd", ROWS](planes, pairs, *results["rows"], 0, n * c),
        "pairs": lambda: table["max", "fwd", PAIRS](planes, pairs, *results["pairs"], 0, n * c),
        "copy_": lambda: target.copy_(x),
    }
    for run in runs.values():  # compile, warm caches
        run()
    same = all(np.array_equal(a, b) for a, b in zip(results["rows"], results["pairs"]))
    times = {name: [] for name in runs}
    order = list(runs)
    for _ in range(args.reps):
        random.shuffle(order)
        for name in order:
            times[name].append(min(_timed(runs[name]) for _ in range(args.burst)))
    ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
    print(
        f"max 3x3/2 p1 NCHW forward kernel forms, shape {(n, c, h, w)} {args.dtype}, one "
        f"thread, {args.reps} interleaved rounds (best of {args.burst}), medians; "
        f"load average {os.getloadavg()[0]:.1f}; outputs and taps identical: {same}"
    )
    for name in ("rows", "pairs", "copy_"):
        print(f"  {name:<8}{ms[name]:8.2f} ms  {ms[name] / ms['copy_']:5.2f} copies")
    print(f"  pairs / rows: {ms['pairs'] / ms['rows']:.2f}x")


def run_e2e(args) -> None:
    """Train the `simple` 2D model with max pooling on random CPU images, kernels on vs off."""
    from poolstride.models import build_model

    torch.manual_seed(0)
    batch, steps = args.e2e_batch, args.e2e_steps
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    timings = {True: [], False: []}
    models = {}
    for flag in (True, False):
        torch.manual_seed(0)
        models[flag] = build_model("simple", "max", (3, 32, 32), 10)
    opts = {flag: torch.optim.SGD(m.parameters(), lr=0.01) for flag, m in models.items()}

    def step(flag):
        with kernels.use_kernels(flag):
            opts[flag].zero_grad()
            loss = F.cross_entropy(models[flag](x), y)
            loss.backward()
            opts[flag].step()

    for flag in (True, False):
        step(flag)
    for _ in range(steps):
        for flag in random.sample([True, False], 2):
            timings[flag].append(_timed(lambda flag=flag: step(flag)))
    on, off = (statistics.median(timings[f]) for f in (True, False))
    print(
        f"\ne2e: `simple` 2D model, kind max, batch {batch} of 3x32x32, SGD step, "
        f"{steps} interleaved steps (median)"
    )
    print(
        f"  with kernels {on * 1e3:.1f} ms/step, PyTorch pooling {off * 1e3:.1f} ms/step: "
        f"{off / on:.2f}x"
    )


_FIRST_CALLS = """
import time, torch
from poolstride import kernels
x = torch.randn(8, 16, 32, 32, requires_grad=True)
xc = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_()
for label, fn in [("max 2x2 NCHW", lambda: kernels.max_pool(x, 2, 2)),
                  ("  again", lambda: kernels.max_pool(x, 2, 2)),
                  ("avg 2x2 NCHW", lambda: kernels.avg_pool(x, 2, 2)),
                  ("blur 3 NCHW", lambda: kernels.blur_pool(x, 3, 2)),
                  ("max 3x3/2 channels-last", lambda: kernels.max_pool(xc, 3, 2, 1))]:
    start = time.perf_counter()
    fn().sum().backward()
    print(f"  {label:<26}{time.perf_counter() - start:6.2f} s")
"""


def run_compile_latency() -> None:
    """First forward+backward calls in fresh processes: empty caches (compile), then warm."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ, POOLSTRIDE_KERNEL_CACHE=f"{tmp}/kernels", NUMBA_CACHE_DIR=f"{tmp}/numba"
        )
        for label in ("cold (empty caches: compile)", "warm (caches on disk)"):
            print(f"\nfirst calls in a fresh process, {label}, each after the previous one")
            subprocess.run([sys.executable, "-c", _FIRST_CALLS], env=env, check=True)


# glibc returns freed blocks of more than a few MB to the OS, so the next allocation of a
# large gradient page-faults it back in (~6,000 faults for 26 MB: several ms, for PyTorch's
# ops and ours alike). These tunables make it keep freed memory, as jemalloc/tcmalloc do.
_KEEP_FREED = "glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=4294967296"


def _reexec_keeping_freed_memory() -> None:
    """Restart this script with :data:`_KEEP_FREED` (glibc reads tunables at start only)."""
    if _KEEP_FREED not in os.environ.get("GLIBC_TUNABLES", ""):
        env = dict(os.environ, GLIBC_TUNABLES=_KEEP_FREED)
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="32,64,56,56")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument(
        "--burst",
        type=int,
        default=8,
        help="back-to-back calls per variant per round, fastest kept (1 = strict interleave)",
    )
    parser.add_argument("--only", default="", help="comma-separated case prefixes: max,avg,blur")
    parser.add_argument(
        "--split",
        action="store_true",
        help="also split our max/avg forward+backward into forward kernel, backward kernel "
        "and the rest (allocation, autograd, Python), in copies of the input",
    )
    parser.add_argument(
        "--forms",
        action="store_true",
        help="only time the NCHW max 3x3/2 p1 forward kernel's forms (separable rows vs "
        "column pairs) side by side, in copies of the input",
    )
    parser.add_argument("--e2e", action="store_true", help="also time end-to-end training")
    parser.add_argument("--e2e-only", action="store_true")
    parser.add_argument("--e2e-batch", type=int, default=128)
    parser.add_argument("--e2e-steps", type=int, default=15)
    parser.add_argument(
        "--compile",
        action="store_true",
        help="only time first calls in fresh processes (cold and warm cache)",
    )
    parser.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="glibc keeps freed memory (no page faults on reallocation), for "
        "every variant alike: " + _KEEP_FREED,
    )
    args = parser.parse_args()
    if args.keep_freed_memory:
        _reexec_keeping_freed_memory()
        print(f"allocator: GLIBC_TUNABLES={_KEEP_FREED}")
    torch.set_num_threads(args.threads)
    random.seed(0)
    if not kernels.available():
        raise SystemExit("numba is not installed: nothing to benchmark")
    if args.compile:
        run_compile_latency()
        return
    if args.forms:
        run_forms(args)
        return
    if not args.e2e_only:
        run_kernels(args)
    if args.e2e or args.e2e_only:
        run_e2e(args)


if __name__ == "__main__":
    main()
