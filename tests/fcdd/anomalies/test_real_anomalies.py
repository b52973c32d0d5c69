"""Real MVTec test anomalies as training anomalies: drawn per defect type, removed from the test set."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fcdd.anomalies.outlier_exposure import OutlierPool
from fcdd.anomalies.real_anomalies import take_test_anomalies
from fcdd.data import mvtec
from fcdd.data.base import ADData
from tests.helpers.mvtec import DEFECTS, TEST_GOOD, write_tree

RAW = 24  # image_size 22


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> ADData:
    root = write_tree(tmp_path_factory.mktemp("mvtec") / "data")
    return mvtec.load(root, 0, image_size=22, show_progress=False)


def find(images: torch.Tensor, image: torch.Tensor) -> int:
    """Index of ``image`` in ``images`` (the fixture's images all differ)."""
    hits = (images == image).flatten(1).all(dim=1).nonzero().flatten().tolist()
    assert len(hits) == 1
    return int(hits[0])


def test_counts_removal_and_masks(data: ADData) -> None:
    rest, pool, removed = take_test_anomalies(data, 1, seed=0)
    n_test = TEST_GOOD + sum(DEFECTS.values())
    assert removed == len(DEFECTS) == len(pool) == 2
    assert len(rest.test_images) == n_test - 2
    assert int(rest.test_labels.sum()) == sum(DEFECTS.values()) - 2
    assert rest.test_groups is not None
    assert rest.test_groups.count("crack") == 2 and rest.test_groups.count("stain") == 1
    assert rest.test_groups.count("good") == TEST_GOOD
    assert rest.test_masks is not None and rest.test_mask_files is not None and data.test_mask_files is not None
    assert len(rest.test_mask_files) == len(rest.test_classes) == n_test - 2
    assert pool.masks is not None and pool.shape == (3, RAW, RAW)
    taken_groups: list[str] = []
    for image, mask in zip(pool.images, pool.masks, strict=True):
        i = find(data.test_images, image)
        assert data.test_masks is not None and torch.equal(mask, data.test_masks[i])
        assert data.test_labels[i] == 1 and data.test_mask_files[i] not in rest.test_mask_files
        assert data.test_groups is not None
        taken_groups.append(data.test_groups[i])
        assert not (rest.test_images == image).flatten(1).all(dim=1).any()  # gone from the test set
    assert sorted(taken_groups) == ["crack", "stain"]  # one per defect type
    # Everything left keeps its own label, mask and file.
    for j in range(len(rest.test_images)):
        i = find(data.test_images, rest.test_images[j])
        assert data.test_masks is not None and torch.equal(rest.test_masks[j], data.test_masks[i])
        assert rest.test_mask_files[j] == data.test_mask_files[i] and rest.test_labels[j] == data.test_labels[i]


def test_seeded_and_deterministic(data: ADData) -> None:
    def taken(seed: int) -> torch.Tensor:
        return take_test_anomalies(data, 2, seed)[1].images

    assert torch.equal(taken(3), taken(3))
    assert len({taken(seed).sum().item() for seed in range(8)}) > 1  # crack has 3 images to choose 2 from


def test_errors(data: ADData) -> None:
    with pytest.raises(ValueError, match=r"defect type 'stain' has 2 anomalous test images, fewer than the 3"):
        take_test_anomalies(data, 3, seed=0)
    with pytest.raises(ValueError, match="must be >= 1"):
        take_test_anomalies(data, 0, seed=0)
    no_groups = dataclasses.replace(data, test_groups=None)
    with pytest.raises(ValueError, match="no defect types and masks"):
        take_test_anomalies(no_groups, 1, seed=0)
    # Two defect types of two images each: taking 2 per type would leave no anomaly to test on.
    keep = torch.tensor([g != "crack" or i < 2 for i, g in enumerate(data.test_groups or ())])
    small = dataclasses.replace(
        data,
        test_images=data.test_images[keep],
        test_labels=data.test_labels[keep],
        test_classes=data.test_classes[keep],
        test_masks=None if data.test_masks is None else data.test_masks[keep],
        test_mask_files=None,
        test_groups=tuple(g for g, k in zip(data.test_groups or (), keep.tolist(), strict=True) if k),
    )
    with pytest.raises(ValueError, match="leaves no anomalous test image"):
        take_test_anomalies(small, 2, seed=0)


def test_pool_sample_with_masks() -> None:
    images = torch.arange(4, dtype=torch.uint8).view(4, 1, 1, 1).expand(4, 3, 2, 2).contiguous()
    masks = (torch.arange(4) % 2).to(torch.uint8).view(4, 1, 1, 1).expand(4, 1, 2, 2).contiguous()
    pool = OutlierPool(images, masks)
    drawn, drawn_masks = pool.sample_with_masks(16, (3, 2, 2), torch.Generator().manual_seed(1))
    assert drawn.dtype == drawn_masks.dtype == torch.float32
    assert drawn.shape == (16, 3, 2, 2) and drawn_masks.shape == (16, 1, 2, 2)
    # Each mask belongs to its image: odd images carry all-ones masks.
    assert torch.equal(drawn_masks[:, :, :1, :1], drawn[:, :1, :1, :1] % 2)
    # The same images as a plain call with the same generator state.
    assert torch.equal(drawn, pool(16, (3, 2, 2), torch.Generator().manual_seed(1)))
    moved = pool.to("cpu")
    assert moved.masks is not None and torch.equal(moved.masks, masks)
    with pytest.raises(ValueError, match="has no masks"):
        OutlierPool(images).sample_with_masks(1, (3, 2, 2), torch.Generator())
    with pytest.raises(ValueError, match=r"`masks` must be a uint8 tensor of shape \(4, 1, 2, 2\)"):
        OutlierPool(images, masks.float())
