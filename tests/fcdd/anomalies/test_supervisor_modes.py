"""Every supervise mode online: shapes, ranges, label fractions, map semantics, seeds; mode `other`."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fcdd.anomalies.noise import get_noise_mode
from fcdd.anomalies.outlier_exposure import OutlierPool
from fcdd.anomalies.supervisor import OnlineSupervisor, pool_from_train_anomalies
from tests.helpers.supervision import (
    POOL_VALUES,
    SHAPE,
    expected_mask_of,
    gen,
    masked_pool,
    nominal_batch,
    pool_images,
    pool_masks,
    sources,
    tiny_data,
)

CASES = sources()


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_mode_online(case: str) -> None:
    mode, source, with_gt_maps = CASES[case]
    b, p = 1200, 0.5
    x = nominal_batch(b).float()
    sup = OnlineSupervisor(mode, source, p=p, with_gt_maps=with_gt_maps)  # type: ignore[arg-type]
    out = sup(x, gen(1))
    assert out.images.shape == (b, *SHAPE)
    assert out.images.dtype == torch.float32
    assert out.images.min() >= 0
    assert out.images.max() <= 255
    assert out.labels.dtype == torch.int64
    assert set(out.labels.unique().tolist()) <= {0, 1}
    anomalous = out.labels.bool()
    fraction = anomalous.float().mean().item()
    if mode == "unsupervised":
        assert fraction == 0
    else:
        assert abs(fraction - p) < 0.06  # ~4 standard errors at b=1200
    assert torch.equal(out.images[~anomalous], x[~anomalous]), "kept samples are untouched"
    assert (out.images[anomalous] != x[anomalous]).flatten(1).any(dim=1).all(), "every anomaly differs"

    maps = out.gt_maps
    if not with_gt_maps and mode != "malformed_normal_gt":
        assert maps is None
        return
    assert maps is not None
    assert maps.shape == (b, 1, *SHAPE[1:])
    assert maps.dtype == torch.float32
    assert set(maps.unique().tolist()) <= {0.0, 1.0}
    assert not maps[~anomalous].any(), "nominal samples have all-zero maps"
    if case.endswith("masked_pool"):
        assert torch.equal(maps[anomalous], expected_mask_of(out.images[anomalous])), "real masks travel along"
    elif mode == "malformed_normal_gt":
        changed = (out.images != x).any(dim=1, keepdim=True).float()
        assert torch.equal(maps, changed)
    else:
        assert (maps[anomalous] == 1).all(), "artificial anomalies get all-ones maps"


@pytest.mark.parametrize("case", sorted(set(CASES) - {"unsupervised"}))
def test_online_seeds(case: str) -> None:
    mode, source, with_gt_maps = CASES[case]
    sup = OnlineSupervisor(mode, source, with_gt_maps=with_gt_maps)  # type: ignore[arg-type]
    x = nominal_batch(64).float()
    a, b, c = sup(x, gen(5)), sup(x, gen(5)), sup(x, gen(6))
    assert torch.equal(a.images, b.images)
    assert torch.equal(a.labels, b.labels)
    if a.gt_maps is not None:
        assert b.gt_maps is not None
        assert torch.equal(a.gt_maps, b.gt_maps)
    assert not torch.equal(a.images, c.images)


def test_other_draws_real_anomalies_uniformly() -> None:
    pool = OutlierPool(pool_images())
    out = OnlineSupervisor("other", pool, p=0.5)(nominal_batch(5000).float(), gen(3))
    drawn = out.images[out.labels.bool()][:, 0, 0, 0]
    counts = torch.stack([(drawn == v).sum() for v in POOL_VALUES]).float()
    assert counts.sum() == drawn.numel(), "only pool images are used"
    assert (counts / counts.sum() - 1 / len(POOL_VALUES)).abs().max() < 0.03
    assert out.gt_maps is None


def test_noise_masked_pool_without_maps_draws_images_only() -> None:
    out = OnlineSupervisor("noise", masked_pool(), p=1.0)(nominal_batch(16).float(), gen(0))
    assert out.gt_maps is None
    assert set(out.images[:, 0, 0, 0].tolist()) <= {float(v) for v in POOL_VALUES}


def test_other_needs_a_pool() -> None:
    for source in (None, get_noise_mode("confetti")):
        with pytest.raises(ValueError, match=r"supervise mode `other` needs real labelled anomalies"):
            OnlineSupervisor("other", source)  # type: ignore[arg-type]


def test_pool_from_train_anomalies() -> None:
    anomalies = pool_images()
    pool = pool_from_train_anomalies(tiny_data(anomalies))
    assert isinstance(pool, OutlierPool)
    assert torch.equal(pool.images, anomalies)
    assert getattr(pool, "masks", None) is None
    for empty in (None, anomalies[:0]):
        with pytest.raises(ValueError, match="needs real labelled anomalies") as err:
            pool_from_train_anomalies(tiny_data(empty, name="cifar10"))
        assert str(err.value) == (
            "supervise mode `other` needs real labelled anomalies; dataset 'cifar10' has none "
            "(custom folders: put them in train/<class>/anomalous/)"
        )


def test_pool_from_train_anomalies_carries_maps() -> None:
    data = dataclasses.replace(tiny_data(pool_images()), train_anomaly_masks=pool_masks())
    pool = pool_from_train_anomalies(data)
    out = OnlineSupervisor("other", pool, p=1.0, with_gt_maps=True)(nominal_batch(32).float(), gen(0))
    assert out.gt_maps is not None
    assert torch.equal(out.gt_maps, expected_mask_of(out.images))


@pytest.mark.parametrize("case", sorted(set(CASES) - {"unsupervised"}))
def test_a_batch_at_p_1_is_the_coins_then_one_anomalies_pass(case: str) -> None:
    # The offline set is made of `anomalies` passes: they must be what __call__ does to the chosen samples.
    mode, source, with_gt_maps = CASES[case]
    sup = OnlineSupervisor(mode, source, p=1.0, with_gt_maps=with_gt_maps)  # type: ignore[arg-type]
    x = nominal_batch(16).float()
    batch = sup(x, gen(4))
    after_coins = gen(4)
    torch.rand(16, generator=after_coins)
    images, maps = sup.anomalies(x, after_coins)
    assert torch.equal(batch.images, images)
    assert batch.labels.eq(1).all()
    assert (batch.gt_maps is None) == (maps is None)
    if batch.gt_maps is not None and maps is not None:
        assert torch.equal(batch.gt_maps, maps)


def test_unsupervised_makes_no_anomalies() -> None:
    with pytest.raises(ValueError, match="supervise mode `unsupervised` makes no anomalies"):
        OnlineSupervisor("unsupervised", None).anomalies(nominal_batch(2).float(), gen(0))
