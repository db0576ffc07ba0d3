"""A tiny grid on real data that spawned workers (process pool, Ray) can load by name:
scikit-learn's digits (offline, 1,437 8x8 training images), a dozen steps."""

DIGITS = dict(
    dataset="digits",
    steps=12,
    batch_size=32,
    log_every=4,
    eval_points=2,
    width=4,
    shift_samples=40,
    max_shift=1,
    device="cpu",
)
