"""Offline supervision: exact 1:1 sets for every mode, the offline malformation rule, balancing, batches."""

from __future__ import annotations

import pytest
import torch

from fcdd.anomalies.offline import (
    BRIGHTNESS_THRESHOLD,
    BalancedDraws,
    OfflineSet,
    balanced_indices,
    make_offline_training_set,
    malform_offline,
)
from fcdd.anomalies.outlier_exposure import OutlierPool
from fcdd.data.preprocess import Preprocessing
from fcdd.engine.batching import Batcher
from tests.helpers.supervision import (
    POOL_VALUES,
    SHAPE,
    expected_mask_of,
    gen,
    masked_pool,
    nominal_batch,
    pool_images,
    sources,
)

CASES = sources()


def _make(case: str, n: int = 50, seed: int = 0, chunk: int = 16) -> OfflineSet:
    mode, source, with_gt_maps = CASES[case]
    images = nominal_batch(n)
    return make_offline_training_set(
        images,
        mode,
        source,
        generator=gen(seed),
        with_gt_maps=with_gt_maps,
        chunk=chunk,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_mode_offline(case: str) -> None:
    mode, _, with_gt_maps = CASES[case]
    n = 50
    x = nominal_batch(n)
    out = _make(case, n)
    total = n if mode == "unsupervised" else 2 * n
    assert len(out) == total
    assert out.images.shape == (total, *SHAPE)
    assert out.images.dtype == torch.uint8
    assert out.labels.dtype == torch.int64
    assert torch.equal(out.images[:n], x), "the nominal images come first, unchanged"
    assert out.labels[:n].sum() == 0
    assert out.labels[n:].sum() == total - n, "exactly N anomalies for N nominal images"
    anomalies = out.images[n:]
    if mode != "unsupervised":
        assert (anomalies != x).flatten(1).any(dim=1).all()
    if mode == "other" or case == "noise_masked_pool":
        assert set(anomalies[:, 0, 0, 0].tolist()) == set(POOL_VALUES), "every real anomaly is used"
    maps = out.gt_maps
    if not with_gt_maps and mode != "malformed_normal_gt":
        assert maps is None
        return
    assert maps is not None
    assert maps.shape == (total, 1, *SHAPE[1:])
    assert maps.dtype == torch.uint8
    assert set(maps.unique().tolist()) <= {0, 1}
    assert not maps[:n].any(), "nominal maps are all zero"
    if case.endswith("masked_pool"):
        assert torch.equal(maps[n:].float(), expected_mask_of(anomalies))
    elif mode == "malformed_normal_gt":
        assert torch.equal(maps[n:], (anomalies != x).any(dim=1, keepdim=True).to(torch.uint8))
    elif mode != "unsupervised":
        assert (maps[n:] == 1).all()


@pytest.mark.parametrize("case", sorted(set(CASES) - {"unsupervised"}))
def test_offline_seeds(case: str) -> None:
    # 48 = 9 * 5 + 3: pools give each of their 5 images 9 times, and 3 random ones once more.
    a, b, c = _make(case, n=48, seed=5), _make(case, n=48, seed=5), _make(case, n=48, seed=6)
    assert torch.equal(a.images, b.images)
    assert (a.gt_maps is None) == (b.gt_maps is None)
    if a.gt_maps is not None and b.gt_maps is not None:
        assert torch.equal(a.gt_maps, b.gt_maps)
    assert not torch.equal(a.images, c.images)


def test_malform_offline_by_hand() -> None:
    # 0.11 * 255 = 28.05: pixels 100 and 255 are bright (noise subtracted), 10 and 0 are not.
    assert BRIGHTNESS_THRESHOLD == pytest.approx(28.05)
    x = torch.tensor([[[[10, 100], [0, 255]]]], dtype=torch.uint8)
    noise = torch.tensor([[[[5.7, 5.7], [-3.2, 30.0]]]])  # truncated to 5, 5, -3, 30
    assert malform_offline(x, noise).tolist() == [[[[15, 95], [0, 225]]]]
    # Brightness is the channel average: (30, 30, 30) is bright, (28, 28, 28) is not.
    rgb = torch.tensor([30, 28], dtype=torch.uint8).view(1, 1, 1, 2).expand(1, 3, 1, 2)
    assert malform_offline(rgb, torch.full((1, 3, 1, 2), 10.0))[0, :, 0].tolist() == [[20, 38]] * 3
    # Clamped to [0, 255].
    assert malform_offline(torch.tensor([[[[250]]]], dtype=torch.uint8), torch.tensor([[[[-300.0]]]])).item() == 255


def test_malformed_normal_gt_offline_by_hand() -> None:
    x = torch.tensor([[[[10, 100], [0, 255]]]], dtype=torch.uint8)

    def fixed(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> torch.Tensor:
        return torch.tensor([[[[5.7, 0.9], [-3.2, 30.0]]]]).expand(n, *shape)

    out = make_offline_training_set(x, "malformed_normal_gt", fixed, generator=gen(0))
    assert out.images[1].tolist() == [[[15, 100], [0, 225]]]
    assert out.gt_maps is not None
    assert out.gt_maps.tolist() == [[[[0, 0], [0, 0]]], [[[1, 0], [0, 1]]]]
    assert out.labels.tolist() == [0, 1]


def test_balanced_indices() -> None:
    idx = balanced_indices(3, 7, gen(0))
    counts = torch.bincount(idx, minlength=3)
    assert counts.sum() == 7
    assert sorted(counts.tolist()) == [2, 2, 3]
    subset = balanced_indices(10, 4, gen(0))
    assert len(set(subset.tolist())) == 4, "more anomalies than needed: a subset without repeats"
    assert balanced_indices(5, 0, gen(0)).numel() == 0


def test_pool_sets_do_not_depend_on_the_chunk_size() -> None:
    for source in (OutlierPool(pool_images()), masked_pool()):
        a = make_offline_training_set(nominal_batch(23), "other", source, generator=gen(1), with_gt_maps=True, chunk=4)
        b = make_offline_training_set(nominal_batch(23), "other", source, generator=gen(1), with_gt_maps=True)
        assert torch.equal(a.images, b.images)
        assert a.gt_maps is not None and b.gt_maps is not None
        assert torch.equal(a.gt_maps, b.gt_maps)


def test_errors() -> None:
    x = nominal_batch(4)
    with pytest.raises(ValueError, match=r"supervise mode `other` needs real labelled anomalies"):
        make_offline_training_set(x, "other", None, generator=gen(0))
    with pytest.raises(ValueError, match=r"unknown supervise mode 'nosie'.*did you mean 'noise'"):
        make_offline_training_set(x, "nosie", None, generator=gen(0))
    with pytest.raises(ValueError, match=r"`images_u8` must be a non-empty uint8"):
        make_offline_training_set(x.float(), "unsupervised", None, generator=gen(0))
    with pytest.raises(ValueError, match=r"outlier pool holds images of shape \(3, 4, 4\)"):
        make_offline_training_set(x, "other", OutlierPool(pool_images((3, 4, 4))), generator=gen(0))
    with pytest.raises(ValueError, match=r"`chunk` must be >= 1 images, got 0"):
        make_offline_training_set(x, "noise", OutlierPool(pool_images()), generator=gen(0), chunk=0)
    with pytest.raises(ValueError, match=r"OfflineSet.labels must be int64 of shape \(4,\)"):
        OfflineSet(x, torch.zeros(3, dtype=torch.long), None)


def test_offline_set_through_the_batcher_yields_every_triple_once_per_epoch() -> None:
    c, h, w = SHAPE
    data = _make("malformed_normal_gt", n=21)
    pre = Preprocessing("none", (c, h, w), (0.0,), (1 / 255,))  # identity: inputs are the raw 0..255 values
    batcher = Batcher(data.images, None, pre, 8, labels=data.labels, maps=data.gt_maps)
    assert len(batcher) == 6
    seen_images, seen_labels, seen_maps = [], [], []
    for inputs, labels, maps in batcher.epoch(gen(2)):
        assert inputs.shape[1:] == SHAPE
        assert maps is not None and maps.dtype == torch.float32
        seen_images.append(inputs)
        seen_labels.append(labels)
        seen_maps.append(maps)
    images, labels, maps = torch.cat(seen_images), torch.cat(seen_labels), torch.cat(seen_maps)
    assert len(images) == 42
    assert not torch.equal(labels, data.labels), "shuffled"
    # Match each yielded triple back to the set: image, label and map stay together.
    flat = data.images.flatten(1).float()
    for image, label, gt in zip(images, labels, maps, strict=True):
        row = (flat == image.flatten().round()).all(dim=1).nonzero().flatten()
        assert len(row) == 1
        assert data.labels[row].item() == label.item()
        assert data.gt_maps is not None
        assert torch.equal(data.gt_maps[row[0]].float(), gt)


def test_balanced_draws_serve_one_balanced_sequence_in_order() -> None:
    pool = OutlierPool(pool_images())
    draws = BalancedDraws(pool, 7, gen(0))
    assert torch.equal(draws.order, balanced_indices(5, 7, gen(0)))
    first, rest = draws(3, SHAPE, gen(1)), draws(4, SHAPE, gen(2))
    assert torch.equal(torch.cat([first, rest]), pool.images[draws.order].float())
    with pytest.raises(ValueError, match="balanced draws hold 7 images, 7 taken, 1 more asked for"):
        draws(1, SHAPE, gen(0))
