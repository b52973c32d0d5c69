"""Shared pieces of the supervision tests (online and offline): sources, pools and tiny ADData."""

from __future__ import annotations

import torch

from fcdd.anomalies.noise import get_noise_mode
from fcdd.anomalies.outlier_exposure import OutlierPool
from fcdd.data.base import ADData
from fcdd.data.preprocess import Preprocessing, Recipe, build_preprocessing
from tests.helpers import gen

SHAPE = (3, 8, 8)
POOL_VALUES = (40, 80, 120, 160, 200)  # pool image k is constant POOL_VALUES[k]


def nominal_batch(n: int, shape: tuple[int, int, int] = SHAPE, seed: int = 99) -> torch.Tensor:
    """uint8 images with values in 60..190 (so malformations and real anomalies are visible)."""
    return torch.randint(60, 191, (n, *shape), generator=gen(seed), dtype=torch.uint8)


def pool_images(shape: tuple[int, int, int] = SHAPE) -> torch.Tensor:
    values = torch.tensor(POOL_VALUES, dtype=torch.uint8).view(-1, 1, 1, 1)
    return values.expand(len(POOL_VALUES), *shape).contiguous()


def pool_masks(shape: tuple[int, int, int] = SHAPE) -> torch.Tensor:
    """Mask k marks the first k+1 rows: recognisable per pool image."""
    masks = torch.zeros((len(POOL_VALUES), 1, *shape[1:]), dtype=torch.uint8)
    for k in range(len(POOL_VALUES)):
        masks[k, :, : k + 1] = 1
    return masks


def expected_mask_of(images: torch.Tensor) -> torch.Tensor:
    """The mask that belongs to each (constant) pool image of a batch, float (B, 1, H, W)."""
    masks = pool_masks(tuple(images.shape[1:]))
    index = [POOL_VALUES.index(int(v)) for v in images[:, 0, 0, 0].tolist()]
    return masks[index].float()


def masked_pool(shape: tuple[int, int, int] = SHAPE) -> OutlierPool:
    """A pool of real anomalies with their masks (like MVTec's ``mvtec_gt``)."""
    return OutlierPool(pool_images(shape), masks=pool_masks(shape))


def sources() -> dict[str, tuple[str, object, bool]]:
    """case name -> (supervise mode, source, with_gt_maps)."""
    return {
        "unsupervised": ("unsupervised", None, False),
        "noise": ("noise", get_noise_mode("uniform"), True),
        "noise_no_maps": ("noise", get_noise_mode("uniform"), False),
        "malformed_normal": ("malformed_normal", get_noise_mode("gaussian"), True),
        "malformed_normal_gt": ("malformed_normal_gt", get_noise_mode("gaussian"), False),
        "other": ("other", OutlierPool(pool_images()), True),
        "noise_masked_pool": ("noise", masked_pool(), True),
        "other_masked_pool": ("other", masked_pool(), True),
    }


def tiny_data(train_anomalies: torch.Tensor | None, name: str = "tiny") -> ADData:
    c, h, w = SHAPE
    return ADData(
        name=name,
        class_names=("a", "b"),
        normal_class=0,
        train_images=nominal_batch(4),
        test_images=nominal_batch(2),
        test_labels=torch.tensor([0, 1]),
        test_classes=torch.tensor([0, 1]),
        preprocessing=Preprocessing("none", (c, h, w), (0.5,), (0.25,)),
        train_anomalies=train_anomalies,
    )


def toy_data(*, masks: bool, train_label: int = 0) -> ADData:
    """16 dark 1x28x28 train images, 6 test images (3 anomalous, with 5x5 masks when ``masks``), no preprocessing."""
    train = torch.randint(40, 60, (16, 1, 28, 28), generator=gen(0), dtype=torch.uint8)
    test = torch.randint(0, 255, (6, 1, 28, 28), generator=gen(1), dtype=torch.uint8)
    pre = build_preprocessing("none", "fmnist", 0, (1, 28, 28), recipes={"none": Recipe()})
    extra = {}
    if masks:
        test_masks = torch.zeros(6, 1, 28, 28, dtype=torch.uint8)
        test_masks[3:, :, 5:10, 5:10] = 1
        extra = {"test_masks": test_masks, "test_mask_files": (None,) * 6}
    return ADData(
        name="toy", class_names=("a", "b"), normal_class=0, train_images=train, test_images=test,
        test_labels=torch.tensor([0, 0, 0, 1, 1, 1]), test_classes=torch.tensor([0, 0, 0, 1, 1, 1]),
        preprocessing=pre, train_label=train_label, **extra,
    )  # fmt: skip
