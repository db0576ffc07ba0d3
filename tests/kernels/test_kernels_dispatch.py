"""When the fast path runs, the fallback, threads, double backward and gradcheck."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from kernel_strategies import make_input

from poolstride import kernels

needs_numba = pytest.mark.skipif(not kernels.available(), reason="numba not installed")
OPS = {
    "max": (lambda x: kernels.max_pool(x, 3, 2, 1), lambda x: F.max_pool2d(x, 3, 2, 1)),
    "avg": (
        lambda x: kernels.avg_pool(x, 3, 2, 1, count_include_pad=False),
        lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
    ),
}


@needs_numba
def test_fast_path_taken_for_cpu_floats():
    assert kernels.fast_path_reason(torch.randn(1, 2, 4, 4)) is None
    assert kernels.fast_path_reason(torch.randn(1, 2, 4, dtype=torch.float64)) is None


@pytest.mark.parametrize(
    "x, reason",
    [
        (torch.randn(1, 2, 4, 4).half(), "dtype"),
        (torch.randn(1, 2, 4, 4).bfloat16(), "dtype"),
        (torch.randn(2, 4, 4), None),  # unbatched 2D = batched 1D: fast path (it is 1D)
        (torch.randn(1, 2, 2, 4, 4), "5D"),
        (torch.randn(1, 0, 4, 4), "empty"),
    ],
)
def test_fallback_reasons(x, reason):
    got = kernels.fast_path_reason(x)
    if reason is None:
        assert got is None or got == "numba unavailable"
    else:
        assert reason in got


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_fallback_serves_other_dtypes(op, dtype):
    fast, ref = OPS[op]
    x = torch.randn(2, 3, 9, 9).to(dtype)
    assert kernels.fast_path_reason(x) is not None
    torch.testing.assert_close(fast(x), ref(x))


@pytest.mark.parametrize("op", sorted(OPS))
def test_disabled_kernels_use_pytorch(op):
    fast, ref = OPS[op]
    x = torch.randn(2, 3, 9, 9, requires_grad=True)
    with kernels.use_kernels(False):
        assert kernels.fast_path_reason(x) == "kernels disabled"
        out = fast(x)
    assert "Pool" in type(out.grad_fn).__name__  # PyTorch's own autograd node
    assert kernels.enabled()


def test_invalid_geometry_raises_pytorch_error():
    x = torch.randn(1, 1, 4, 4)
    with pytest.raises(RuntimeError):
        kernels.max_pool(x, 2, 2, padding=2)  # padding > kernel / 2
    with pytest.raises(RuntimeError):
        kernels.avg_pool(x, 5)  # window larger than the input


THREADED = {
    **{name: fast for name, (fast, _) in OPS.items()},
    "max 2x2": lambda x: kernels.max_pool(x, 2, 2),
    "blur": lambda x: kernels.blur_pool(x, 3, 2),
    "max+blur": lambda x: kernels.max_blur_pool(x, 3, 2),
}


@needs_numba
@pytest.mark.parametrize("op", sorted(THREADED))
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_multithreaded_equals_single_threaded(op, layout, monkeypatch):
    from poolstride.kernels import blur_pooling, threads

    fast = THREADED[op]
    x = make_input((4, 8, 40, 40), torch.float32, layout, "ties", seed=0).requires_grad_()
    monkeypatch.setattr(threads, "MIN_WORK_PER_THREAD", 1024)  # small input, many chunks
    monkeypatch.setattr(blur_pooling, "FUSED_CHUNK", 4096)  # max+blur: several chunks per thread
    chunk_calls = []
    original = threads.run
    monkeypatch.setattr(
        threads,
        "run",
        lambda fn, before, count, after=(), work=0: (
            chunk_calls.append(min(torch.get_num_threads(), count, work // 1024)),
            original(fn, before, count, after, work),
        )[1],
    )
    before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 3):
            torch.set_num_threads(threads)
            out = fast(x)
            (grad,) = torch.autograd.grad(out, x, torch.ones_like(out))
            results.append((out, grad))
    finally:
        torch.set_num_threads(before)
    assert max(chunk_calls) == 3  # the 3-thread pass really split the work
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])


@needs_numba
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize(
    "op",
    [
        lambda x: kernels.max_pool(x, 3, 2, 1, dilation=(1, 2), ceil_mode=True),
        lambda x: kernels.avg_pool(x, (3, 2), 2, 1, ceil_mode=True, count_include_pad=False),
        lambda x: kernels.avg_pool(x, 2, 1, divisor_override=3),
        lambda x: kernels.blur_pool(x, 4, 2),
        lambda x: kernels.blur_pool(x, 3, 2, pad_mode="zeros"),
        lambda x: kernels.max_pool(x.flatten(2), 3, 2, 1),
        lambda x: kernels.avg_pool(x.flatten(2), 3, 2, 1),
    ],
    ids=["max", "avg", "avg-divisor", "blur-reflect", "blur-zeros", "max-1d", "avg-1d"],
)
def test_gradcheck_and_gradgradcheck_float64(op, layout):
    # Distinct values: max pooling is differentiable away from ties.
    x = torch.randperm(2 * 3 * 7 * 6, dtype=torch.float64).reshape(2, 3, 7, 6) / 10
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    assert torch.autograd.gradcheck(op, (x,))
    assert torch.autograd.gradgradcheck(op, (x,))


@needs_numba
def test_double_backward_matches_pytorch():
    x = torch.randperm(2 * 3 * 8 * 8, dtype=torch.float64).reshape(2, 3, 8, 8).requires_grad_()
    v = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    results = []
    for pool in (kernels.max_pool, F.max_pool2d):
        out = pool(x, 3, 2, 1)
        (g,) = torch.autograd.grad(out, x, torch.ones_like(out) * 2, create_graph=True)
        y = torch.randn(out.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        out2 = pool(x * 1.0, 3, 2, 1)
        (gg,) = torch.autograd.grad((g * v).sum() + (out2 * y).sum(), x)
        results.append(gg)
    torch.testing.assert_close(results[0], results[1])


def test_import_does_not_load_numba():
    import subprocess
    import sys

    code = (
        "import sys, poolstride, poolstride.kernels; "
        "assert 'numba' not in sys.modules, 'numba imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@needs_numba
def test_concurrent_calls_from_python_threads():
    from concurrent.futures import ThreadPoolExecutor

    inputs = [
        make_input((2, 4, 20, 20), torch.float32, layout, "ties", seed=s)
        for s, layout in enumerate(["contiguous", "channels_last"] * 4)
    ]

    def both(x):
        return kernels.max_pool(x, 3, 2, 1), kernels.avg_pool(x, 2), kernels.blur_pool(x, 3)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(both, inputs))
    for x, (mx, av, bl) in zip(inputs, results):
        ref = both(x)
        assert torch.equal(mx, ref[0]) and torch.equal(av, ref[1]) and torch.equal(bl, ref[2])


_FORKED_CHILD = """
import multiprocessing, sys
import torch
from poolstride import kernels

def in_child(x):
    torch.set_num_threads(2)
    return kernels.max_pool(x, 2)

if __name__ == "__main__":
    if "fork" not in multiprocessing.get_all_start_methods():
        sys.exit(3)
    torch.set_num_threads(2)
    x = torch.randn(4, 8, 64, 64)
    expected = kernels.max_pool(x, 2)  # creates the thread pool in the parent
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(in_child, (x,)).get(timeout=60)
    sys.exit(0 if torch.equal(got, expected) else 1)
"""


@needs_numba
def test_threads_work_in_a_forked_child(tmp_path):
    # In a fresh interpreter: a process whose PyTorch already ran OpenMP regions on several
    # threads (as earlier tests in this worker may have) cannot use them in a forked child —
    # a PyTorch/libgomp limit, not ours. What is ours: the kernels' thread pool is rebuilt.
    import subprocess
    import sys

    script = tmp_path / "forked_child.py"
    script.write_text(_FORKED_CHILD)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180
    )
    if done.returncode == 3:
        pytest.skip("no fork on this platform")
    assert done.returncode == 0, done.stderr[-2000:]


def test_dispatch_log_names_the_implementation_of_each_call():
    x = torch.randn(2, 3, 8, 8)
    with kernels.dispatch_log() as calls:
        kernels.max_pool(x, 2, 2)  # common window: generated kernel
        kernels.max_pool(x, 2, 3)  # stride 3: generic kernel
        cl = x.contiguous(memory_format=torch.channels_last)
        kernels.avg_pool(cl.requires_grad_(), 3, 2, 1)  # training: ours
        kernels.blur_pool(x, 3, 2)
        kernels.max_pool(x.half(), 2, 2)  # half: PyTorch
        kernels.avg_pool(cl.detach(), 3, 2, 1)  # channels-last inference: PyTorch's
    assert [(c["op"], c["kernel"]) for c in calls] == [
        ("max", "poolstride generated"),
        ("max", "poolstride generic"),
        ("avg", "poolstride generated"),
        ("blur", "poolstride generated"),
        ("max", "pytorch"),
        ("avg", "pytorch"),
    ]
    assert calls[2]["layout"] == "channels_last" and calls[0]["layout"] == "contiguous"
    assert "float16" in calls[4]["reason"]
    assert calls[5]["reason"] == "channels-last average pooling without gradient"
    with kernels.use_kernels(False), kernels.dispatch_log() as calls:
        kernels.avg_pool(x, 2)
    assert calls == [
        {
            "op": "avg",
            "shape": (2, 3, 8, 8),
            "layout": "contiguous",
            "kernel": "pytorch",
            "reason": "kernels disabled",
        }
    ]


def test_dispatch_log_sees_blur_served_by_pytorch_in_the_layers():
    from poolstride.layers import functional as PF

    with kernels.use_kernels(False), kernels.dispatch_log() as calls:
        PF.blur_pool(torch.randn(1, 2, 8, 8), 3, 2)
    assert [(c["op"], c["kernel"], c["reason"]) for c in calls] == [
        ("blur", "pytorch", "kernels disabled")
    ]


@needs_numba
def test_kernel_tables_name_every_kernel_the_dispatchers_look_up():
    from poolstride.kernels import dispatch, generated
    from poolstride.kernels.call_plan import CHANNELS_LAST, DENSE, PAIRS, PLANAR, ROWS

    generic = dispatch.generic_kernels().KERNELS
    layouts = (PLANAR, CHANNELS_LAST)
    assert set(generic) == {
        (family, direction, layout)
        for family in ("max", "avg", "resample")
        for direction in ("fwd", "bwd")
        for layout in layouts
    }
    assert len({id(kernel) for kernel in generic.values()}) == len(generic)  # no name twice
    pool = set(generated.pool_kernels((2, 2), (2, 2), (0, 0), (1, 1)))
    common = {("max", "fwd", PLANAR), ("max", "fwd", CHANNELS_LAST), ("max", "bwd", PLANAR)}
    common |= {("avg", "fwd", PLANAR), ("avg", "bwd", PLANAR), ("avg", "fwd", CHANNELS_LAST)}
    assert pool == common | {("max", "fwd", PAIRS)}
    overlapping = set(generated.pool_kernels((3, 3), (2, 2), (1, 1), (1, 1)))
    assert overlapping == common | {("max", "fwd", PAIRS), ("max", "fwd", ROWS)}
    dense = set(generated.pool_kernels((3, 3), (1, 1), (0, 0), (1, 1)))
    assert dense == common | {("max", "fwd", DENSE)}
    blur = generated.blur_kernels(3, 2, 1, "float32")
    assert set(blur) == {("resample", d, layout) for d in ("fwd", "bwd") for layout in layouts}
    assert generated.pool_kernels((2, 2), (3, 3), (0, 0), (1, 1)) == {}
