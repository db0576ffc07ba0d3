"""The retaining allocator: what it sets, when it does nothing, and that it works."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from poolstride.errors import PoolstrideError
from poolstride.experiment import allocator
from poolstride.experiment.config import CompareConfig

needs_glibc = pytest.mark.skipif(allocator.glibc() is None, reason="glibc only")

# Allocate, touch and free a 64 MiB buffer (above glibc's largest dynamic mmap threshold,
# 32 MiB) five times; print the minor page faults of the last four rounds.
_PROBE = textwrap.dedent(
    """
    import ctypes, json, resource, sys
    from poolstride.experiment import allocator
    state = allocator.apply(sys.argv[1])
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = (ctypes.c_size_t,)
    libc.free.argtypes = (ctypes.c_void_p,)
    size = 64 << 20
    def round_trip():
        p = libc.malloc(size)
        ctypes.memset(p, 1, size)
        libc.free(p)
    round_trip()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(4):
        round_trip()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print(json.dumps({"state": state, "faults": faults}))
    """
)


def _probe(choice: str, env_value: str | None = None) -> dict:
    env = dict(os.environ)
    env.pop(allocator.ENV_VAR, None)
    if env_value is not None:
        env[allocator.ENV_VAR] = env_value
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, choice],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@needs_glibc
def test_retain_keeps_freed_memory_for_the_next_allocation():
    pages = (64 << 20) // os.sysconf("SC_PAGE_SIZE")
    default = _probe("default")
    retain = _probe("retain")
    assert default["state"] == "default"
    assert retain["state"] == "retain"
    # default: every round maps and faults in all 64 MiB again; retain: the heap keeps them
    assert default["faults"] >= 3 * pages
    assert retain["faults"] < pages // 4


@needs_glibc
def test_environment_variable_turns_it_off():
    off = _probe("retain", env_value="default")
    assert off["state"] == "default"
    assert off["faults"] >= 3 * (64 << 20) // os.sysconf("SC_PAGE_SIZE")


class _FakeLibc:
    """Records mallopt calls; refuses the parameters in ``refuse`` (returns 0, as glibc)."""

    def __init__(self, refuse=()):
        self.calls = []
        self.refuse = set(refuse)

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return 0 if param in self.refuse else 1


@pytest.fixture
def fresh(monkeypatch):
    """A clean per-process state and no POOLSTRIDE_ALLOCATOR in the environment."""
    monkeypatch.setitem(allocator._state, "applied", None)
    monkeypatch.delenv(allocator.ENV_VAR, raising=False)
    return monkeypatch


def test_retain_sets_both_thresholds_once(fresh):
    libc = _FakeLibc()
    fresh.setattr(allocator, "glibc", lambda: libc)
    assert allocator.apply("retain") == "retain"
    assert libc.calls == [
        (allocator.M_MMAP_THRESHOLD, 1 << 30),
        (allocator.M_TRIM_THRESHOLD, 1 << 30),
    ]
    assert allocator.apply("retain") == "retain"
    assert allocator.apply("default") == "retain"  # cannot be undone; says so
    assert len(libc.calls) == 2


def test_old_glibc_without_large_mmap_threshold_turns_mmap_off(fresh):
    libc = _FakeLibc(refuse={allocator.M_MMAP_THRESHOLD})
    fresh.setattr(allocator, "glibc", lambda: libc)
    assert allocator.apply("retain") == "retain"
    assert (allocator.M_MMAP_MAX, 0) in libc.calls


def test_default_option_and_environment_leave_malloc_untouched(fresh):
    libc = _FakeLibc()
    fresh.setattr(allocator, "glibc", lambda: libc)
    assert allocator.apply("default") == "default"
    fresh.setenv(allocator.ENV_VAR, "default")
    assert allocator.apply("retain") == "default"
    assert libc.calls == []


def test_not_glibc_is_a_no_op(fresh):
    fresh.setattr(allocator, "glibc", lambda: None)
    assert allocator.apply("retain") == "default (not glibc)"


def test_unknown_names_are_errors(fresh):
    with pytest.raises(PoolstrideError, match="unknown allocator 'jemalloc'"):
        allocator.choice("jemalloc")
    fresh.setenv(allocator.ENV_VAR, "off")
    with pytest.raises(PoolstrideError, match="POOLSTRIDE_ALLOCATOR"):
        allocator.choice("retain")
    with pytest.raises(PoolstrideError, match="allocator"):
        CompareConfig(allocator="fast")


def test_allocator_is_not_part_of_a_runs_identity():
    retain = CompareConfig(variants=("max",), seeds=1).runs()[0]
    default = CompareConfig(variants=("max",), seeds=1, allocator="default").runs()[0]
    assert retain.key == default.key
