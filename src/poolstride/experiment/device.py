"""Where a run computes: the device named in its config, and waiting for it.

``auto`` is CUDA when a GPU is visible, else the CPU. :func:`synchronize` makes wall-clock
timings honest on CUDA (kernels launch asynchronously); on the CPU it does nothing.
"""

from __future__ import annotations

import torch

from poolstride.errors import PoolstrideError


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


def synchronize(device: torch.device) -> None:
    """Wait for ``device``'s queued work (CUDA); a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
