"""scikit-learn's 8×8 hand-written digits (1,797 images, shipped with scikit-learn: no download).

Split: stratified, 20% test, with a fixed split seed (0) so that the test set never depends
on the experiment's seed. Normalisation: pixel values 0..16 scaled to [0, 1], then
standardised with the training split's mean/std.
"""

from __future__ import annotations

import numpy as np
import torch

from poolstride.data.dataset import IMAGE_NORMALIZATION, Dataset, standardize
from poolstride.errors import PoolstrideError

SPLIT_SEED = 0
TEST_FRACTION = 0.2


def load_digits_dataset() -> Dataset:
    """Load the digits as ``(N, 1, 8, 8)`` images: 1,437 train / 360 test."""
    # imported on use: scikit-learn is slow to import, and an optional dependency
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise PoolstrideError(
            "dataset 'digits' needs scikit-learn: pip install 'poolstride[sklearn]'"
        ) from None

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.float32)[:, None] / 16.0
    labels = np.asarray(bunch.target, dtype=np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        images, labels, test_size=TEST_FRACTION, stratify=labels, random_state=SPLIT_SEED
    )
    x_train, x_test = standardize(torch.from_numpy(x_tr), torch.from_numpy(x_te), inplace=True)
    return Dataset(
        name="digits",
        x_train=x_train,
        y_train=torch.from_numpy(y_tr),
        x_test=x_test,
        y_test=torch.from_numpy(y_te),
        num_classes=10,
        input_shape=(1, 8, 8),
        class_names=tuple(str(d) for d in range(10)),
        normalization=IMAGE_NORMALIZATION,
    )
