"""The in-memory anomaly-detection problem every dataset loader returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import torch
from torch import Tensor

from fcdd.data.preprocess import Preprocessing, Recipe

if TYPE_CHECKING:
    from fcdd.config import DataConfig


@dataclass(frozen=True, eq=False)
class ADData:
    """One one-vs-rest (or nominal-vs-anomalous) problem, held in memory.

    Images are uint8 ``(N, C, H, W)`` at the dataset's raw size; labels are int64 with
    0 = nominal and 1 = anomalous.
    """

    name: str  # dataset name, e.g. "fmnist"
    class_names: tuple[str, ...]  # all class names of the dataset
    normal_class: int
    train_images: Tensor  # nominal training images only
    test_images: Tensor  # the whole test split
    test_labels: Tensor  # 1 = anomalous
    test_classes: Tensor  # original class index of each test image
    preprocessing: Preprocessing
    # Real anomalous training images: the other classes' training images for
    # one-vs-rest datasets, train/<c>/anomalous for custom folders. Used for
    # validation splits and supervised training; None when there are none.
    train_anomalies: Tensor | None = None
    # Pixel-level ground truth (MVTec, custom folders with maps). test_masks are uint8 (M,1,H,W)
    # in {0,1} at the raw size, for training maps and figures; test_mask_files name each test
    # image's mask at its ORIGINAL resolution (None: no anomalous pixel), which the pixel AUC uses.
    test_masks: Tensor | None = None
    test_mask_files: tuple[str | None, ...] | None = None
    train_masks: Tensor | None = None  # uint8 (N,1,H,W) maps of the training images, where a dataset has them
    # The label the loss gives train_images: 0 normally; 1 where the dataset's own training images are
    # the anomalous side and the outlier exposure the nominal one (Pascal VOC horses, the Clever-Hans
    # experiment). Stated here rather than hidden in a label swap inside the loss.
    train_label: int = 0
    train_anomaly_masks: Tensor | None = None  # uint8 (K,1,H,W) maps of train_anomalies (custom folders with maps)
    # A group name per test image, e.g. the MVTec defect type ("good", "cut", ...).
    test_groups: tuple[str, ...] | None = None
    # The images show only the central square of their files (custom folders keep the aspect
    # ratio): the pixel metrics cut the original-resolution masks the same way before comparing.
    mask_files_center_square: bool = False

    def __post_init__(self) -> None:
        images = {"train_images": self.train_images, "test_images": self.test_images}
        if self.train_anomalies is not None:
            images["train_anomalies"] = self.train_anomalies
        for field, tensor in images.items():
            if tensor.dtype != torch.uint8 or tensor.dim() != 4:
                raise ValueError(
                    f"ADData.{field} must be a uint8 (N,C,H,W) tensor, got {tensor.dtype} "
                    f"of shape {tuple(tensor.shape)}"
                )
            if tuple(tensor.shape[1:]) != tuple(self.train_images.shape[1:]):
                raise ValueError(
                    f"ADData.{field} has image shape {tuple(tensor.shape[1:])}, "
                    f"train_images has {tuple(self.train_images.shape[1:])}; all must match"
                )
        m = self.test_images.shape[0]
        for field, tensor in (("test_labels", self.test_labels), ("test_classes", self.test_classes)):
            if tensor.dtype != torch.int64 or tuple(tensor.shape) != (m,):
                raise ValueError(
                    f"ADData.{field} must be int64 of shape ({m},), got {tensor.dtype} of shape {tuple(tensor.shape)}"
                )
        for field, masks, n in (
            ("test_masks", self.test_masks, m),
            ("train_masks", self.train_masks, self.train_images.shape[0]),
            (
                "train_anomaly_masks",
                self.train_anomaly_masks,
                0 if self.train_anomalies is None else self.train_anomalies.shape[0],
            ),
        ):
            if masks is not None and (masks.dtype != torch.uint8 or tuple(masks.shape) != (n, 1, *self.raw_shape[1:])):
                raise ValueError(
                    f"ADData.{field} must be uint8 of shape ({n}, 1, {self.raw_shape[1]}, {self.raw_shape[2]}), "
                    f"got {masks.dtype} of shape {tuple(masks.shape)}"
                )
        for field, values in (("test_mask_files", self.test_mask_files), ("test_groups", self.test_groups)):
            if values is not None and len(values) != m:
                raise ValueError(f"ADData.{field} needs one entry per test image ({m}), got {len(values)}")
        if not 0 <= self.normal_class < len(self.class_names):
            raise ValueError(f"ADData.normal_class must be in [0, {len(self.class_names)}), got {self.normal_class}")
        if self.train_label not in (0, 1):
            raise ValueError(f"ADData.train_label must be 0 or 1, got {self.train_label}")

    @property
    def raw_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the stored images."""
        c, h, w = self.train_images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, h, w) of the network input after preprocessing."""
        return self.preprocessing.input_shape

    @property
    def own_images_anomalous(self) -> bool:
        """Whether the dataset's own images are the anomalous side of the loss (``train_label`` 1)."""
        return self.train_label == 1

    def loss_labels(self, added: Tensor) -> Tensor:
        """The loss's labels (1 = anomalous side) of samples marked 1 = added anomaly, 0 = one of the own images.

        Made and outlier-exposure anomalies are marked 1 where they are mixed in (supervisor,
        offline set, validation split); they stay the anomalous side, or are flipped to the
        nominal one where the dataset's own images are the anomalous side.
        """
        return 1 - added if self.own_images_anomalous else added


def split_one_vs_rest(
    name: str,
    class_names: tuple[str, ...],
    normal_class: int,
    train_images: Tensor,
    train_targets: Tensor,
    test_images: Tensor,
    test_targets: Tensor,
    preprocessing: Preprocessing,
) -> ADData:
    """Split a labelled classification dataset into a one-vs-rest problem.

    The nominal class's training images train the model; the other classes' training
    images become ``train_anomalies``; every test image is kept, labelled anomalous
    when its class differs from ``normal_class``.
    """
    nominal = train_targets == normal_class
    return ADData(
        name=name,
        class_names=class_names,
        normal_class=normal_class,
        train_images=train_images[nominal].contiguous(),
        test_images=test_images,
        test_labels=(test_targets != normal_class).long(),
        test_classes=test_targets.long(),
        preprocessing=preprocessing,
        train_anomalies=train_images[~nominal].contiguous(),
    )


def fixed_classes(names: tuple[str, ...]) -> ClassesFn:
    """The ``classes`` function of a dataset whose class names are fixed (``root`` is not read)."""

    def classes(root: Path | None, *, one_vs_rest: bool = True) -> tuple[str, ...]:
        return names

    return classes


class LoadFn(Protocol):
    """Signature every dataset module's ``load`` follows."""

    def __call__(
        self,
        root: Path | None,
        normal_class: int,
        *,
        preprocessing: str,
        download: bool,
        one_vs_rest: bool,
        image_size: int | None,
    ) -> ADData: ...


class ClassesFn(Protocol):
    """Signature every dataset module's ``classes`` follows."""

    def __call__(self, root: Path | None, *, one_vs_rest: bool) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class ClassSummary:
    """What a dataset's check found for one class: the layout, file counts, sizes and colour modes."""

    name: str
    layout: str  # where the files were found, in words
    counts: tuple[tuple[str, int], ...] = ()  # ("train nominal", 240), ("test anomalous", 40), ("masks", 40)...
    sizes: tuple[str, ...] = ()  # distinct image sizes "WxH" (the first few)
    modes: tuple[str, ...] = ()  # distinct PIL modes (L, RGB, I;16...)
    warnings: tuple[str, ...] = ()  # found and allowed, but probably a mistake

    def count(self, what: str) -> int:
        """The count of ``what`` (0 if not counted)."""
        return dict(self.counts).get(what, 0)


class CheckFn(Protocol):
    """Signature of a dataset's pre-flight: the files of one class, checked before anything decodes them.

    Raises a one-line ``ValueError``/``FileNotFoundError`` naming the file and the fix; returns
    what it found (`fcdd check` prints it). ``data`` is the run's whole DataConfig.
    """

    def __call__(self, root: Path | None, data: DataConfig) -> ClassSummary: ...


class OneVsRestFn(Protocol):
    """Signature of a dataset's answer to "is this one class against the rest of its classes?" for a DataConfig."""

    def __call__(self, data: DataConfig) -> bool: ...


def always_one_vs_rest(data: DataConfig) -> bool:
    """The ``one_vs_rest`` of a dataset whose classes are always one against the rest (F-MNIST, CIFAR-10...)."""
    return True


def never_one_vs_rest(data: DataConfig) -> bool:
    """The ``one_vs_rest`` of a dataset whose anomalies are not its other classes (MVTec's defects)."""
    return False


class ShapeFn(Protocol):
    """Signature of a dataset's network input shape ``(C, H, W)`` for a DataConfig, known without its files."""

    def __call__(self, data: DataConfig) -> tuple[int, int, int]: ...


@dataclass(frozen=True)
class DatasetLoader:
    """What the registry knows about one dataset family."""

    load: LoadFn
    classes: ClassesFn
    recipes: Mapping[str, Recipe]  # preprocessing name -> pipeline; the first is the default
    # One class against the rest of the dataset's classes, for a DataConfig: the test anomalies are
    # the other classes, and so are the real training anomalies where the training split holds them
    # (the "auto" validation anomalies, without masks). Every dataset answers; custom folders by
    # their `one_vs_rest` flag.
    one_vs_rest: OneVsRestFn
    # The input shape the preprocessing gives, from the config alone (checked against the network
    # before any image is decoded); None: only known once loaded.
    input_shape: ShapeFn | None = None
    # Raises a one-line error for a class whose files cannot load (reads headers only); None: no checks.
    check: CheckFn | None = None

    @property
    def default_preprocessing(self) -> str:
        """Name of the dataset's default preprocessing pipeline."""
        return next(iter(self.recipes))


def fixed_shape(name: str, shape: tuple[int, int, int]) -> ShapeFn:
    """The ``input_shape`` of a dataset whose images have one size (``image_size`` may only repeat it)."""

    def input_shape(data: DataConfig) -> tuple[int, int, int]:
        if data.image_size is not None and data.image_size != shape[1]:
            raise ValueError(
                f"`image_size` (--image-size) for {name} is fixed at {shape[1]}, got {data.image_size}; leave it unset"
            )
        return shape

    return input_shape


def square_shape(default_size: int) -> ShapeFn:
    """The ``input_shape`` of a dataset resized to ``image_size`` squares (``default_size`` when unset)."""

    def input_shape(data: DataConfig) -> tuple[int, int, int]:
        size = data.image_size or default_size
        return (data.channels or 3, size, size)

    return input_shape
