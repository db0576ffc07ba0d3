import math

import pytest
import torch

from poolstride.data import load_dataset
from poolstride.data.shapes2d import SHAPES, raster_shapes
from poolstride.errors import PoolstrideError

# Areas of each shape in units of radius^2 (see the inside-tests in shapes2d._masks).
AREA = {
    "circle": math.pi,
    "ring": math.pi * (1 - 0.55**2),
    "square": 1.6**2,
    "frame": 1.6**2 - 0.9**2,
    "triangle": 3 * math.sqrt(3) / 4,
    "cross": 2 * (0.5 * 2) - 0.5**2,
    "x": 2 * (0.5 * 2) - 0.5**2,
    "diamond": 2.0,
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("angle", [0.0, 0.2])
def test_raster_area_matches_geometry(shape, angle):
    label = torch.tensor([SHAPES.index(shape)])
    r = 10.0
    cov = raster_shapes(
        label,
        torch.tensor([24.0]),
        torch.tensor([24.0]),
        torch.tensor([r]),
        torch.tensor([angle]),
        48,
    )
    assert cov.min() >= 0 and cov.max() <= 1
    assert cov.sum().item() == pytest.approx(AREA[shape] * r * r, rel=0.03)
    # Nothing drawn outside the circumscribed circle (corners of a rotated square: r * 0.8 * sqrt 2).
    yy, xx = torch.meshgrid(torch.arange(48) + 0.5, torch.arange(48) + 0.5, indexing="ij")
    far = ((xx - 24) ** 2 + (yy - 24) ** 2).sqrt() > 1.2 * r + 1
    assert cov[0, 0][far].sum() == 0


def test_shapes_that_differ_by_rotation_are_different():
    labels = torch.tensor([SHAPES.index(s) for s in ("square", "diamond", "cross", "x")])
    c = torch.full((4,), 16.0)
    cov = raster_shapes(labels, c, c, torch.full((4,), 8.0), torch.zeros(4), 32)
    assert (cov[0] - cov[1]).abs().sum() > 20
    assert (cov[2] - cov[3]).abs().sum() > 20


def test_shapes2d_dataset_is_balanced_standardised_and_deterministic():
    kw = dict(image_size=16, num_train=80, num_test=24, use_cache=False)
    ds = load_dataset("shapes2d", **kw)
    assert ds.input_shape == (1, 16, 16) and ds.num_classes == 8
    assert ds.class_names == SHAPES
    assert torch.bincount(ds.y_train, minlength=8).tolist() in ([10] * 8,)
    assert ds.x_train.mean().abs() < 1e-5 and (ds.x_train.std() - 1).abs() < 1e-3
    again = load_dataset("shapes2d", **kw)
    assert torch.equal(ds.x_train, again.x_train) and torch.equal(ds.y_test, again.y_test)
    other = load_dataset("shapes2d", generator_seed=1, **kw)
    assert not torch.equal(ds.x_train, other.x_train)


def test_shapes2d_needs_translation_invariance():
    """The classes carry signal, but only position-free features reveal it: a nearest-centroid
    classifier on pixels is near chance (1/8), on |FFT| (invariant to circular shifts) it is
    far above."""
    ds = load_dataset("shapes2d", image_size=24, num_train=800, num_test=200, noise=0.0)

    def nearest_centroid(features):
        a, b = features(ds.x_train), features(ds.x_test)
        mu, sd = a.mean(0), a.std(0) + 1e-6
        a, b = (a - mu) / sd, (b - mu) / sd
        centroids = torch.stack([a[ds.y_train == c].mean(0) for c in range(8)])
        return (torch.cdist(b, centroids).argmin(1) == ds.y_test).float().mean().item()

    pixels = nearest_centroid(lambda x: x.flatten(1))
    spectrum = nearest_centroid(lambda x: torch.fft.fft2(x[:, 0]).abs().flatten(1).log1p())
    assert pixels < 0.35
    assert spectrum > 0.65


@pytest.mark.parametrize(
    "kw", [{"image_size": 4}, {"num_train": 3}, {"num_test": 0}, {"image_size": "32"}]
)
def test_shapes2d_bad_options(kw):
    with pytest.raises(PoolstrideError):
        load_dataset("shapes2d", **kw)
