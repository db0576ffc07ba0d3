"""Grid tasks as Ray tasks: an existing cluster, or a local Ray instance on loopback.

Ray is an optional dependency (``pip install 'poolstride[ray]'``). With an ``address`` the
tasks go to that running cluster (its nodes need poolstride and the data); without one, a
local Ray instance is started with ``num_cpus = workers * threads``, no dashboard, bound to
127.0.0.1, and shut down when the grid is done. Each task asks Ray for ``threads`` CPUs, and
at most ``workers`` tasks are in flight at once.

Fault tolerance is Ray's: a task whose worker process dies (killed node, OOM killer) is
re-executed up to ``max_retries`` times. Exceptions *inside* a run are not retried — the
runner already turns them into a ``failed`` row with the reason, and a deterministic error
would only fail again. Outcomes come back to the driver, which writes the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from poolstride.errors import PoolstrideError
from poolstride.experiment.cores import cpu_count, threads_per_worker
from poolstride.experiment.task import lost_outcomes, run_task


def _import_ray():
    try:
        import ray
    except ImportError:
        raise PoolstrideError(
            "backend 'ray' needs Ray: pip install 'poolstride[ray]' (or pip install ray)"
        ) from None
    return ray


@contextmanager
def ray_session(address: str | None, num_cpus: int):
    """Connect to ``address`` (a running cluster) or start a local instance on 127.0.0.1.

    Reuses a Ray session already open in this process; shuts down only what it started.
    """
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        if address is not None:
            ray.init(
                address=address,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        else:
            ray.init(
                num_cpus=num_cpus,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                _node_ip_address="127.0.0.1",
            )
    except (ConnectionError, ValueError, RuntimeError) as err:
        where = address or "a local instance"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PoolstrideError(f"cannot start Ray on {where}: {first}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _entry(runner: Callable[[Any], Any], task: Any, threads: int, allocator: str = "retain") -> Any:
    """What a Ray worker executes: its allocator, a fair thread share, then the task."""
    import torch

    from poolstride.experiment import allocator as alloc

    alloc.apply(allocator)
    torch.set_num_threads(threads)
    return runner(task)


def run_ray(
    tasks: Sequence[Any],
    *,
    workers: int | None,
    address: str | None = None,
    threads: int | None = None,
    max_retries: int = 2,
    runner: Callable[[Any], Any] | None = None,
    allocator: str = "retain",
) -> Iterator[tuple[Any, Any]]:
    """Run every task as a Ray task; yield ``(task, runner(task))`` in order of completion.

    At most ``workers`` tasks are in flight (``None``: as many as the cluster's CPUs allow).
    ``threads`` per task defaults to the fair local share (``cores // workers``) on a local
    instance and 1 on a cluster; each task reserves that many Ray CPUs. ``runner`` defaults
    to :func:`poolstride.experiment.task.run_task`. A task that still fails after Ray's
    retries (its worker died every time) yields failed outcomes saying so. Each task first
    sets its worker's ``allocator`` (:mod:`~poolstride.experiment.allocator`; once per worker).
    """
    runner = runner or run_task
    if threads is None:
        threads = 1 if address is not None or workers is None else threads_per_worker(workers)
    if not tasks:
        return
    local_cpus = (workers or cpu_count()) * threads
    with ray_session(address, num_cpus=local_cpus) as ray:
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
        remote = ray.remote(num_cpus=threads, max_retries=max_retries, retry_exceptions=False)(
            _entry
        )
        queue = list(tasks)
        in_flight: dict[Any, Any] = {}
        while queue or in_flight:
            while queue and len(in_flight) < workers:
                task = queue.pop(0)
                in_flight[remote.remote(runner, task, threads, allocator)] = task
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            task = in_flight.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except (
                ray.exceptions.RayTaskError,
                ray.exceptions.WorkerCrashedError,
                ray.exceptions.NodeDiedError,
                ray.exceptions.TaskCancelledError,
                ray.exceptions.ObjectLostError,
            ) as err:
                result = lost_outcomes(task, err) if hasattr(task, "configs") else err
            yield task, result


__all__ = ["ray_session", "run_ray"]
