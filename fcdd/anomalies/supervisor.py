"""Online supervision (FCDD method notes §5.1, §5.4): mix anomalies into each training batch.

The original flips a coin per sample inside the DataLoader workers; here one call handles a
whole batch on the training device. Each sample is independently made anomalous with
probability ``p`` (0.5 in the paper), so the anomaly count varies from batch to batch.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor

from fcdd.anomalies.noise import AnomalySource

SUPERVISE_MODES = ("unsupervised", "noise", "malformed_normal", "malformed_normal_gt")

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


class OnlineSupervisor:
    """Turns a batch of nominal images into a labelled batch with anomalies (§5.1).

    * ``unsupervised``: images pass through, all labels 0.
    * ``noise``: each sample with probability ``p`` is replaced by a source image clamped to
      [0, 255]; its ground-truth map is all ones.
    * ``malformed_normal``: each sample with probability ``p`` becomes ``clamp(X + noise)``
      (see :func:`malform`); with ``with_gt_maps`` its map is all ones.
    * ``malformed_normal_gt``: as ``malformed_normal``, and the map marks the pixels that
      changed in any channel (maps are always returned).

    Kept samples get label 0 and an all-zero map.
    """

    def __init__(self, mode: str, source: AnomalySource | None, *, p: float = 0.5, with_gt_maps: bool = False) -> None:
        if mode == "other":
            raise ValueError(
                "supervise mode 'other' needs real labelled anomalies; "
                "it is not supported by the online supervisor for this dataset"
            )
        if mode not in SUPERVISE_MODES:
            close = difflib.get_close_matches(str(mode), SUPERVISE_MODES)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ValueError(f"unknown supervise mode {mode!r}; choose one of {sorted(SUPERVISE_MODES)}{hint}")
        if mode != "unsupervised" and source is None:
            raise ValueError(
                f"supervise mode {mode!r} needs an anomaly source (a noise mode or an outlier pool), got None"
            )
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"anomaly probability `p` must be in [0, 1], got p={p}")
        self.mode = mode
        self.source = source
        self.p = float(p)
        self.with_gt_maps = with_gt_maps or mode == "malformed_normal_gt"

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
            source = cast(AnomalySource, self.source)  # not None outside "unsupervised" (see __init__)
            anomalies = source(int(idx.numel()), (c, h, w), generator).to(images.device)
            if self.mode == "noise":
                out[idx] = anomalies.clamp(0, 255)
            else:
                out[idx] = malform(images[idx], anomalies)
            if maps is not None:
                if self.mode == "malformed_normal_gt":
                    changed = (out[idx] != images[idx]).any(dim=1, keepdim=True)
                    maps[idx] = changed.float()
                else:
                    maps[idx] = 1.0
        return SupervisedBatch(out, chosen.long(), maps)
