"""Datasets (held in memory as uint8 tensors) and their batched preprocessing."""

from fcdd.data.base import ADData, DatasetLoader
from fcdd.data.preprocess import Preprocessing, Recipe, build_preprocessing, class_constants, lcn
from fcdd.data.registry import DATASETS, dataset_classes, get_loader, list_datasets, load_dataset

__all__ = [
    "DATASETS",
    "ADData",
    "DatasetLoader",
    "Preprocessing",
    "Recipe",
    "build_preprocessing",
    "class_constants",
    "dataset_classes",
    "get_loader",
    "lcn",
    "list_datasets",
    "load_dataset",
]
