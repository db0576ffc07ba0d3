"""Small but real: the default model learns the default dataset."""

import pytest
import torch
import torch.nn.functional as F

from poolstride.data import load_dataset
from poolstride.models import build_model


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["max", "conv"])
def test_simple_learns_mnist1d(kind, tmp_path_factory, monkeypatch):
    # One cache for both kinds, never the user's home.
    monkeypatch.setenv("POOLSTRIDE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    data = load_dataset("mnist1d", train_size=2000)
    torch.manual_seed(0)
    model = build_model("simple", kind, data.input_shape, data.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(6):
        for idx in torch.randperm(data.train_size).split(100):
            loss = F.cross_entropy(model(data.x_train[idx]), data.y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(data.x_test).argmax(1) == data.y_test).float().mean().item()
    assert accuracy > 0.7  # chance is 0.1; 6 epochs on 2,000 examples reach ~0.8-0.9
