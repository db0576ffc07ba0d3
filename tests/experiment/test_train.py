"""The training loop, schedules and augmentation, on tiny local models and data."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from poolstride.experiment.augment import make_augment, random_flip, random_shift
from poolstride.experiment.config import RunConfig
from poolstride.experiment.train import (
    Diverged,
    eval_rows,
    evaluate,
    lr_at,
    make_optimizer,
    total_steps,
    train,
)


def tiny_model(seed=0, length=16):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv1d(1, 4, 3, padding=1),
        nn.BatchNorm1d(4),
        nn.ReLU(),
        nn.MaxPool1d(2),
        nn.Flatten(),
        nn.Linear(4 * length // 2, 3),
    )


def tiny_data(n=96, length=16, seed=0):
    """Three classes: a bump at the start, middle or end of the sequence, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = 0.3 * torch.randn(n, 1, length, generator=g)
    for i, c in enumerate(y.tolist()):
        x[i, 0, c * length // 3 : (c * length // 3) + 4] += 2.0
    return x, y


def cfg(**kw):
    base = dict(steps=30, batch_size=16, lr=1e-2, log_every=5, eval_points=3)
    base.update(kw)
    return RunConfig(**base)


def test_training_learns_and_records_a_curve():
    x, y = tiny_data()
    model = tiny_model()
    before, _ = evaluate(model, x, y)
    res = train(model, x, y, cfg(steps=60), x_test=x, y_test=y)
    after, loss = evaluate(model, x, y)
    assert after > max(before, 0.8)
    assert res.steps == 60 and res.epochs == 60 / (96 // 16)
    assert res.curve["step"] == list(range(5, 61, 5))
    assert res.curve["eval_step"] == [20, 40, 60]
    assert res.curve["test_acc"][-1] == pytest.approx(after)
    assert res.curve["train_loss"][-1] < res.curve["train_loss"][0]
    assert res.final_train_loss == res.curve["train_loss"][-1]
    assert res.train_time_s > 0 and math.isfinite(loss)


def test_same_seed_same_run_different_seed_different_order():
    x, y = tiny_data()
    runs = []
    for seed in (1, 1, 2):
        model = tiny_model(seed=0)  # same init: only the data order differs by seed
        train(model, x, y, cfg(seed=seed, augment="shift", max_shift=2))
        runs.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(runs[0], runs[1])
    assert not torch.allclose(runs[0], runs[2])


def test_divergence_is_detected_at_the_next_log_point():
    class Blows(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return x.flatten(1)[:, :3] * self.w * float("nan")

    x, y = tiny_data()
    with pytest.raises(Diverged, match="training loss became nan by step 5"):
        train(Blows(), x, y, cfg(optimizer="sgd"))


def test_epoch_budget_and_small_training_sets():
    c = cfg(steps=None, epochs=3, batch_size=32)
    assert total_steps(c, 100) == 3 * 3  # ragged last batch dropped: 100 // 32 = 3 per epoch
    assert total_steps(c, 10) == 3  # batch larger than the set: one full-set batch per epoch
    x, y = tiny_data(n=10)
    res = train(tiny_model(), x, y, c)
    assert res.steps == 3 and res.epochs == 3.0


def test_lr_schedules():
    c = cfg(lr=0.1, schedule="cosine")
    assert lr_at(c, 0, 100) == pytest.approx(0.1)
    assert lr_at(c, 50, 100) == pytest.approx(0.05)
    assert lr_at(c, 100, 100) == pytest.approx(0.0, abs=1e-12)
    s = cfg(lr=0.1, schedule="step")
    assert [lr_at(s, t, 100) for t in (0, 49, 50, 74, 75, 99)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    )
    assert lr_at(cfg(lr=0.1, schedule="constant"), 77, 100) == 0.1


def test_optimizers_match_their_reference_settings():
    params = list(tiny_model().parameters())
    adam = make_optimizer(cfg(optimizer="adam", weight_decay=1e-4), params)
    sgd = make_optimizer(cfg(optimizer="sgd", momentum=0.8), params)
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["weight_decay"] == 1e-4
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.8
    assert adam.defaults["fused"] or adam.defaults["foreach"]


def test_sgd_step_matches_a_hand_written_update():
    # one step of our loop with constant lr equals plain SGD on the same batch
    x, y = tiny_data(n=16)
    a, b = tiny_model(), tiny_model()
    train(
        a,
        x,
        y,
        cfg(
            steps=1,
            batch_size=16,
            optimizer="sgd",
            momentum=0.0,
            schedule="constant",
            lr=0.1,
            log_every=1,
        ),
    )
    b.train()
    F.cross_entropy(b(x), y).backward()  # full batch: the permutation does not matter
    with torch.no_grad():
        for p in b.parameters():
            p -= 0.1 * p.grad
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)


def test_evaluate_matches_manual_accuracy_and_keeps_mode():
    x, y = tiny_data()
    model = tiny_model()
    model.train()
    acc, loss = evaluate(model, x, y, batch_size=7)
    model.eval()
    logits = model(x)
    assert acc == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert loss == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)
    model.train()
    evaluate(model, x, y)
    assert model.training


@given(
    st.integers(1, 3),
    st.integers(1, 5),
    st.integers(1, 9),
    st.integers(0, 3),
    st.sampled_from([1, 2]),
    st.integers(0, 2**16),
)
def test_random_shift_is_pad_then_crop(n, c, size, s, dim, seed):
    x = torch.randn(n, c, *([size] * dim))
    g = torch.Generator().manual_seed(seed)
    out = random_shift(x, s, g)
    assert out.shape == x.shape
    if s == 0:
        assert out is x
        return
    # replay the same draws: one start per sample per axis, axes in order
    g2 = torch.Generator().manual_seed(seed)
    starts = [torch.randint(0, 2 * s + 1, (n,), generator=g2) for _ in range(dim)]
    padded = F.pad(x, [s] * (2 * dim))
    for i in range(n):
        if dim == 1:
            ref = padded[i, :, starts[0][i] : starts[0][i] + size]
        else:
            ref = padded[
                i, :, starts[0][i] : starts[0][i] + size, starts[1][i] : starts[1][i] + size
            ]
        assert torch.equal(out[i], ref)


def test_random_flip_mirrors_about_half_of_the_batch():
    x = torch.arange(4000.0).view(1000, 1, 4)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = (out == x.flip(-1)).all(-1).squeeze(1)
    kept = (out == x).all(-1).squeeze(1)
    assert torch.all(flipped ^ kept)
    assert 400 < int(flipped.sum()) < 600


def test_make_augment_kinds():
    assert make_augment("none", 4) is None
    x = torch.randn(8, 1, 6, 6)
    assert make_augment("flip", 4, torch.Generator().manual_seed(1))(x).shape == x.shape
    both = make_augment("shift+flip", 2, torch.Generator().manual_seed(1))(x)
    assert both.shape == x.shape and not torch.equal(both, x)


def test_evaluation_batches_stay_small_for_images_and_whole_for_mnist1d():
    assert eval_rows(torch.zeros(4000, 1, 40), seeds=3) == 1000  # the default grid: unchanged
    assert eval_rows(torch.zeros(1000, 3, 32, 32), seeds=2) == 2**21 // (2 * 3 * 32 * 32)
    assert eval_rows(torch.zeros(10, 3, 512, 512), seeds=5) == 1
    assert eval_rows(torch.zeros(0, 3, 32, 32)) == 1000


def test_evaluation_in_batches_equals_one_batch():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.BatchNorm1d(4), nn.Flatten(), nn.Linear(32, 3))
    x, y = torch.randn(50, 1, 10, dtype=torch.float64), torch.randint(0, 3, (50,))
    model = model.double()
    whole = evaluate(model, x, y, batch_size=50)
    # per-example losses are float32 (as stored): sums differ by their rounding only
    assert evaluate(model, x, y, batch_size=7) == pytest.approx(whole, rel=1e-6)
