"""Offline supervision (FCDD method notes §5.1, §5.4): anomalies generated once, fixed for all epochs.

For ``N`` nominal training images exactly ``N`` anomalies are made before training (an exact
1:1 ratio, unlike the online supervisor's coin flip per sample), stored as uint8 next to the
nominal images and then shuffled into batches like any dataset. Faster than online
supervision, but every epoch sees the same anomalies.

The anomalies are the online supervisor's with every image chosen: the supervise modes live in
:mod:`fcdd.anomalies.supervisor` only. Offline are the malformation's sign rule and the
balanced pool draws.

Differences from the original, on purpose:

* ``other`` balances the real anomalies to ``N`` (every real anomaly used about equally
  often); the original trained on the whole labelled train set, all classes unbalanced
  (~1:9 on F-MNIST and CIFAR-10, §9.1 item 3).
* ``noise`` with ``with_gt_maps`` gives all-ones maps (or an outlier pool's real masks);
  the original refused maps for pure noise.
* Outlier-pool images are drawn balanced as well (each pool image ``N // K`` or
  ``N // K + 1`` times), which keeps every image of a small ``--oe-limit`` pool in use.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from fcdd.anomalies.noise import AnomalySource
from fcdd.anomalies.outlier_exposure import OutlierPool
from fcdd.anomalies.supervisor import REPLACING_MODES, OnlineSupervisor, check_mode

# §5.1 offline malformation: pixels brighter than this (channel average, 0..255 scale) get
# the noise subtracted instead of added, so bright regions still change visibly.
BRIGHTNESS_THRESHOLD = 0.11 * 255
# Anomalies are made in chunks of about this many pixel values (64 MB as float32), so the
# float and int32 temporaries stay bounded whatever N is. The chunk size is part of the random
# stream of synthetic sources: the same shape and chunk reproduce the same set.
CHUNK_ELEMENTS = 1 << 24


@dataclass(frozen=True, eq=False)
class OfflineSet:
    """A fixed training set: nominal images first, then their anomalies."""

    images: Tensor  # uint8 (M, C, H, W), 0..255
    labels: Tensor  # int64 (M,), 1 = anomalous
    gt_maps: Tensor | None  # uint8 (M, 1, H, W) in {0, 1}, or None

    def __post_init__(self) -> None:
        m = self.images.shape[0]
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(
                f"OfflineSet.images must be uint8 (M,C,H,W), got {self.images.dtype} {tuple(self.images.shape)}"
            )
        if self.labels.dtype != torch.int64 or tuple(self.labels.shape) != (m,):
            raise ValueError(
                f"OfflineSet.labels must be int64 of shape ({m},), got {self.labels.dtype} of shape "
                f"{tuple(self.labels.shape)}"
            )
        expected = (m, 1, *self.images.shape[2:])
        maps = self.gt_maps
        if maps is not None and (maps.dtype != torch.uint8 or tuple(maps.shape) != expected):
            raise ValueError(
                f"OfflineSet.gt_maps must be uint8 of shape {expected}, got {maps.dtype} of shape {tuple(maps.shape)}"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def to(self, device: torch.device | str) -> OfflineSet:
        """The same set with every tensor on ``device`` (put it where the training generator lives)."""
        maps = None if self.gt_maps is None else self.gt_maps.to(device)
        return OfflineSet(self.images.to(device), self.labels.to(device), maps)


def malform_offline(images: Tensor, noise: Tensor) -> Tensor:
    """``clamp(X ± noise)`` with the offline sign rule of §5.1, as uint8.

    ``images`` uint8 ``(n, C, H, W)``; ``noise`` float of the same shape, truncated towards
    zero to whole grey levels (as the original's integer arithmetic does). The noise is
    subtracted at pixels whose channel-averaged brightness exceeds 0.11·255, added elsewhere.
    """
    x = images.to(torch.int32)
    step = noise.to(x.device).trunc().to(torch.int32)
    channels = images.shape[1]
    # Sum against threshold * C: the same test as the channel mean, without a division.
    bright = x.sum(dim=1, keepdim=True) > BRIGHTNESS_THRESHOLD * channels
    return (x + torch.where(bright, -step, step)).clamp(0, 255).to(torch.uint8)


def balanced_indices(count: int, n: int, generator: torch.Generator) -> Tensor:
    """``n`` indices into ``count`` items, each used ``n // count`` times plus a random ``n % count`` once more.

    With ``count >= n`` this is a random subset without repetition.
    """
    if count < 1:
        raise ValueError(f"cannot draw from an empty set of anomalies (count={count})")
    full = torch.arange(count, device=generator.device).repeat(n // count)
    extra = torch.randperm(count, generator=generator, device=generator.device)[: n % count]
    return torch.cat([full, extra])


class BalancedDraws(OutlierPool):
    """An outlier pool whose draws, together, are one :func:`balanced_indices` sequence of ``n`` images.

    The sequence is drawn from ``generator`` when the object is made; later draws take its next
    images in order and use no randomness, so a set made in chunks does not depend on the chunk size.
    """

    def __init__(self, pool: OutlierPool, n: int, generator: torch.Generator) -> None:
        super().__init__(pool.images, pool.masks)
        self.order = balanced_indices(len(pool), n, generator)
        self.taken = 0

    def indices(self, n: int, generator: torch.Generator) -> Tensor:
        """The next ``n`` indices of the balanced sequence (``generator`` is not used)."""
        if self.taken + n > len(self.order):
            raise ValueError(f"balanced draws hold {len(self.order)} images, {self.taken} taken, {n} more asked for")
        part = self.order[self.taken : self.taken + n]
        self.taken += n
        return part


def _checked_chunk(images_u8: Tensor, supervisor_mode: str, source: AnomalySource | None, chunk: int | None) -> int:
    """Images per step for :func:`make_offline_training_set`, after a one-line error for any bad argument."""
    if images_u8.dtype != torch.uint8 or images_u8.dim() != 4 or images_u8.shape[0] == 0:
        raise ValueError(
            f"`images_u8` must be a non-empty uint8 (N,C,H,W) tensor, got {images_u8.dtype} {tuple(images_u8.shape)}"
        )
    check_mode(supervisor_mode, source)
    c, h, w = images_u8.shape[1:]
    chunk = max(1, CHUNK_ELEMENTS // (c * h * w)) if chunk is None else chunk
    if chunk < 1:
        raise ValueError(f"`chunk` must be >= 1 images, got {chunk}")
    if isinstance(source, OutlierPool) and source.shape != (c, h, w):
        raise ValueError(
            f"outlier pool holds images of shape {source.shape}, the training images are {(c, h, w)}; "
            "load the pool with the dataset's raw (C, H, W)"
        )
    return chunk


def make_offline_training_set(
    images_u8: Tensor,
    supervisor_mode: str,
    source: AnomalySource | None,
    *,
    generator: torch.Generator,
    with_gt_maps: bool = False,
    chunk: int | None = None,
) -> OfflineSet:
    """Make the fixed training set of ``N`` nominal images plus ``N`` anomalies (§5.1 offline).

    The anomalies are the online supervisor's (:meth:`OnlineSupervisor.anomalies
    <fcdd.anomalies.supervisor.OnlineSupervisor.anomalies>`, every image chosen) with two offline
    rules: malformations use :func:`malform_offline`, and an outlier pool that replaces images is
    drawn balanced (:class:`BalancedDraws`). Per mode:

    * ``unsupervised``: the ``N`` nominal images only.
    * ``noise``: ``N`` source images clamped to [0, 255] (an outlier pool is drawn balanced).
    * ``malformed_normal``: each nominal image once more, malformed.
    * ``malformed_normal_gt``: as above; the map marks pixels that changed in any channel.
    * ``other``: ``N`` real anomalies from an :class:`OutlierPool` (see
      :func:`~fcdd.anomalies.supervisor.pool_from_train_anomalies`), balanced.

    Maps (``with_gt_maps``, always for ``malformed_normal_gt``): nominal all zeros, anomalies
    all ones, or a pool's real masks, or the changed pixels. Images stay on their device; the
    randomness comes from ``generator`` only. ``chunk`` (images per step) defaults to about
    :data:`CHUNK_ELEMENTS` pixel values.
    """
    chunk = _checked_chunk(images_u8, supervisor_mode, source, chunk)
    n, _, h, w = images_u8.shape
    if supervisor_mode in REPLACING_MODES and isinstance(source, OutlierPool):
        source = BalancedDraws(source, n, generator)
    supervisor = OnlineSupervisor(
        supervisor_mode, source, p=1.0, with_gt_maps=with_gt_maps, malformation=malform_offline
    )
    device, with_gt_maps = images_u8.device, supervisor.with_gt_maps
    if supervisor_mode == "unsupervised":
        maps = torch.zeros((n, 1, h, w), dtype=torch.uint8, device=device) if with_gt_maps else None
        return OfflineSet(images_u8.clone(), torch.zeros(n, dtype=torch.long, device=device), maps)
    images = torch.cat([images_u8, torch.empty_like(images_u8)])
    maps = torch.zeros((2 * n, 1, h, w), dtype=torch.uint8, device=device) if with_gt_maps else None
    for start in range(0, n, chunk):
        nominal = images_u8[start : start + chunk]
        rows = slice(n + start, n + start + len(nominal))
        made, made_maps = supervisor.anomalies(nominal.float(), generator)
        # Whole grey levels: integers already, or truncated as the original's byte conversion.
        images[rows] = made.to(torch.uint8)
        if maps is not None and made_maps is not None:
            maps[rows] = made_maps.to(torch.uint8)
    labels = torch.arange(2 * n, device=device).ge(n).long()  # N zeros, then N ones
    return OfflineSet(images, labels, maps)
