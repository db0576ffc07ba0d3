"""Fixtures shared by the experiment tests."""

import pytest
import torch

from poolstride.experiment import grid, step_choice, task


@pytest.fixture
def patch_runs(monkeypatch):
    """``patch_runs(name, value)``: replace ``load_data`` / ``build`` wherever runs use it
    (the grid validates and plans with them, the step choice times them, a task trains
    with them)."""

    def patch(name, value):
        for module in (grid, step_choice, task):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, value)

    return patch


@pytest.fixture
def float64():
    """torch's default dtype float64 for the test (checks of "equal up to reordering")."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
