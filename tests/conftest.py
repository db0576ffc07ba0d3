import os

import pytest
import torch
from hypothesis import HealthCheck, settings

# Tests run two at a time (pytest -n 2) on small machines: one thread each.
torch.set_num_threads(1)

settings.register_profile(
    "default",
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("default")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
