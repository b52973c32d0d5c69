"""Online supervision (FCDD method notes §5.1, §5.4): mix anomalies into each training batch.

The original flips a coin per sample inside the DataLoader workers; here one call handles a
whole batch on the training device. Each sample is independently made anomalous with
probability ``p`` (0.5 in the paper), so the anomaly count varies from batch to batch.

Mode ``other`` mixes in *real* labelled anomalies (:func:`pool_from_train_anomalies`) the
same way. The original trains silently unsupervised when ``other`` is combined with online
supervision on F-MNIST, CIFAR-10 and ImageNet (§9.1 item 3); here it is balanced like the
other modes, and a dataset without labelled anomalies is an error.

The five supervise modes are implemented here only: the offline training set
(:mod:`fcdd.anomalies.offline`) is made of :meth:`OnlineSupervisor.anomalies` passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
from torch import Tensor

from fcdd import registry
from fcdd.anomalies.noise import AnomalySource
from fcdd.anomalies.outlier_exposure import OutlierPool
from fcdd.anomalies.registry import SUPERVISE_MODES

if TYPE_CHECKING:
    from fcdd.data.base import ADData

# Modes whose anomalies are source images as they are (not malformed nominal images).
REPLACING_MODES = ("noise", "other")

# How a malformation combines nominal images (float, 0..255) with a source's noise: the
# online rule :func:`malform`, or the offline sign rule of fcdd.anomalies.offline.
Malformation = Callable[[Tensor, Tensor], Tensor]

# §5.1: a malformation changing less than this (mean |ΔX| on the 0..255 scale) is tried negated.
INVERSION_THRESHOLD = 0.025


@dataclass(frozen=True)
class SupervisedBatch:
    """A training batch with anomalies mixed in."""

    images: Tensor  # float32 (B, C, H, W), 0..255 scale
    labels: Tensor  # int64 (B,), 1 = anomalous
    gt_maps: Tensor | None  # float32 (B, 1, H, W) in {0, 1}, or None


def malform(images: Tensor, noise: Tensor) -> Tensor:
    """``clamp(X + noise, 0, 255)``, using ``-noise`` where that changes a near-unchanged sample more.

    Per sample: if the mean absolute change is below 0.025 grey levels (e.g. a darkening
    confetti on an already black image) and the negated noise changes the image more, the
    negated noise is used (§5.1).
    """
    plus = (images + noise).clamp(0, 255)
    minus = (images - noise).clamp(0, 255)
    change_plus = (plus - images).abs().flatten(1).mean(dim=1)
    change_minus = (minus - images).abs().flatten(1).mean(dim=1)
    invert = (change_plus < INVERSION_THRESHOLD) & (change_minus > change_plus)
    return torch.where(invert.view(-1, 1, 1, 1), minus, plus)


def has_masks(source: object) -> bool:
    """Whether ``source`` is an outlier pool that carries real anomaly masks (e.g. MVTec defects)."""
    return isinstance(source, OutlierPool) and source.masks is not None


def pool_from_train_anomalies(data: ADData) -> OutlierPool:
    """The dataset's real labelled training anomalies as an :class:`OutlierPool` (supervise mode ``other``).

    One-vs-rest datasets give the other classes' training images, custom folders their
    ``train/<class>/anomalous/`` images. Their ground-truth maps (``data.train_anomaly_masks``,
    custom folders with maps) travel with the pool; without maps, anomalies get all-ones maps.
    """
    images = data.train_anomalies
    if images is None or images.shape[0] == 0:
        raise ValueError(
            f"supervise mode `other` needs real labelled anomalies; dataset {data.name!r} has none "
            "(custom folders: put them in train/<class>/anomalous/)"
        )
    return OutlierPool(images, masks=data.train_anomaly_masks)


def check_mode(mode: str, source: object) -> None:
    """Raise a one-line ``ValueError`` unless ``mode`` is a supervise mode that ``source`` can serve."""
    registry.check(SUPERVISE_MODES, mode, "supervise mode")
    if mode == "other" and not isinstance(source, OutlierPool):
        raise ValueError(
            "supervise mode `other` needs real labelled anomalies as an OutlierPool "
            f"(pool_from_train_anomalies(data)), got {type(source).__name__}"
        )
    if mode != "unsupervised" and source is None:
        raise ValueError(f"supervise mode {mode!r} needs an anomaly source (a noise mode or an outlier pool), got None")


class OnlineSupervisor:
    """Turns a batch of nominal images into a labelled batch with anomalies (§5.1).

    * ``unsupervised``: images pass through, all labels 0.
    * ``noise``: each sample with probability ``p`` is replaced by a source image clamped to
      [0, 255]; its ground-truth map is all ones (or the pool's real mask, see below).
    * ``malformed_normal``: each sample with probability ``p`` becomes ``clamp(X + noise)``
      (see :func:`malform`); with ``with_gt_maps`` its map is all ones.
    * ``malformed_normal_gt``: as ``malformed_normal``, and the map marks the pixels that
      changed in any channel (maps are always returned).
    * ``other``: as ``noise``, with real labelled anomalies: ``source`` must be an
      :class:`OutlierPool` (see :func:`pool_from_train_anomalies`).

    With ``with_gt_maps``, a replacing mode (``noise``, ``other``) whose source is a pool
    carrying masks (``mvtec_gt``, custom maps) gives each replaced sample its real mask;
    otherwise replaced samples get all-ones maps (§1.1).

    Kept samples get label 0 and an all-zero map. ``malformation`` combines nominal images
    with noise in the malformed modes (default :func:`malform`, the online rule of §5.1).
    """

    def __init__(
        self,
        mode: str,
        source: AnomalySource | None,
        *,
        p: float = 0.5,
        with_gt_maps: bool = False,
        malformation: Malformation = malform,
    ) -> None:
        check_mode(mode, source)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"anomaly probability `p` must be in [0, 1], got p={p}")
        self.mode = mode
        self.source = source
        self.p = float(p)
        self.with_gt_maps = with_gt_maps or mode == "malformed_normal_gt"
        self.malformation = malformation

    def __repr__(self) -> str:
        return f"OnlineSupervisor(mode={self.mode!r}, p={self.p}, with_gt_maps={self.with_gt_maps})"

    def __call__(self, images: Tensor, generator: torch.Generator) -> SupervisedBatch:
        """Mix anomalies into ``images`` (float (B, C, H, W), 0..255); randomness only from ``generator``."""
        if images.dim() != 4:
            raise ValueError(f"`images` must be a (B, C, H, W) batch, got shape={tuple(images.shape)}")
        if images.device.type != generator.device.type:
            raise ValueError(
                f"`generator` lives on {generator.device} but images on {images.device}; "
                "create the generator on the training device"
            )
        images = images.float()
        b, c, h, w = images.shape
        if self.mode == "unsupervised":
            labels = torch.zeros(b, dtype=torch.long, device=images.device)
            maps = torch.zeros((b, 1, h, w), device=images.device) if self.with_gt_maps else None
            return SupervisedBatch(images, labels, maps)

        chosen = torch.rand(b, generator=generator, device=generator.device).to(images.device) < self.p
        idx = chosen.nonzero(as_tuple=True)[0]
        out = images.clone()
        maps = torch.zeros((b, 1, h, w), device=images.device) if self.with_gt_maps else None
        if idx.numel() > 0:
            anomalies, anomaly_maps = self.anomalies(images[idx], generator)
            out[idx] = anomalies
            if maps is not None and anomaly_maps is not None:
                maps[idx] = anomaly_maps
        return SupervisedBatch(out, chosen.long(), maps)

    def anomalies(self, images: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor | None]:
        """Every one of ``images`` (float (n, C, H, W), 0..255) made anomalous: float images and maps (or None).

        What the mode does to a sample the coin chose, for all of them at once (no coins are
        drawn); the offline training set is made of such passes (:mod:`fcdd.anomalies.offline`).
        """
        if self.mode == "unsupervised":
            raise ValueError("supervise mode `unsupervised` makes no anomalies")
        n, c, h, w = images.shape
        source = cast(AnomalySource, self.source)  # not None outside "unsupervised" (see __init__)
        replacing = self.mode in REPLACING_MODES
        real_masks = None
        if replacing and self.with_gt_maps and isinstance(source, OutlierPool) and has_masks(source):
            drawn, real_masks = source.sample_with_masks(n, (c, h, w), generator)
            made = drawn.to(images.device)
        else:
            made = source(n, (c, h, w), generator).to(images.device)
        out = made.clamp(0, 255) if replacing else self.malformation(images, made).float()
        if not self.with_gt_maps:
            return out, None
        if real_masks is not None:
            return out, (real_masks.to(images.device) > 0).float()
        if self.mode == "malformed_normal_gt":
            return out, (out != images).any(dim=1, keepdim=True).float()
        return out, torch.ones((n, 1, h, w), device=images.device)
