"""Datasets as tensors: ``load_dataset(name) -> Dataset`` (image folders: uint8 pixels,
decoded once into a cache, read as standardised float32 batches).

Names: ``mnist1d`` (default, generated locally), ``shapes2d`` (generated), ``digits``
(scikit-learn), ``mnist``, ``fashion-mnist``, ``cifar10``, ``cifar100``, ``svhn``
(torchvision, ``download=True`` to fetch), ``folder:PATH`` (ImageFolder layout).
"""

from poolstride.data.dataset import (
    Dataset,
    cache_dir,
    default_data_dir,
    standardize,
    stratified_indices,
    subsample_train,
)
from poolstride.data.load import DATASETS, load_dataset
from poolstride.data.standardized_images import StandardizedImages

__all__ = [
    "DATASETS",
    "Dataset",
    "StandardizedImages",
    "cache_dir",
    "default_data_dir",
    "load_dataset",
    "standardize",
    "stratified_indices",
    "subsample_train",
]
