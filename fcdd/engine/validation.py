"""Validation data carved from the training split, so searches never look at the test split.

Nominal validation images are held out of the nominal training images. Anomalous validation
images are real anomalies from the *training* split where the dataset has them (the other
classes' training images in one-vs-rest datasets; ``train/<class>/anomalous`` for custom
folders). Where it has none, the proxy is artificial anomalies made from held-out nominal images
by the run's own anomaly generator. ``data.validation_anomalies`` names the choice instead:
"other-classes", "synthetic" (confetti-malformed held-out images) or "outlier-exposure";
:attr:`ValidationSet.anomaly_source` starts with the one used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from fcdd.anomalies.from_config import Supervision, validation_anomaly_maker
from fcdd.anomalies.supervisor import REPLACING_MODES
from fcdd.config import DataConfig, RunConfig
from fcdd.data.base import ADData
from fcdd.data.loading import get_loader
from fcdd.data.subsets import select_train, validation_size


@dataclass(frozen=True)
class ValidationSet:
    """Held-out images with labels (1 = anomalous)."""

    images: Tensor  # uint8 (V, C, H, W)
    labels: Tensor  # int64 (V,)
    anomaly_source: str  # "<other-classes|synthetic|outlier-exposure>: what they are"
    # uint8 (V, 1, H, W) in {0, 1}, where every anomaly has a mask: made anomalies mark what they
    # changed (malformed images) or the whole image (replaced by an outlier image); real ones
    # carry theirs where the dataset has training masks. None otherwise (no validation pixel AUC).
    masks: Tensor | None = None


def split_validation(
    data: ADData,
    fraction: float,
    *,
    seed: int,
    make_anomalies: Callable[[Tensor, torch.Generator], Tensor],
    proxy_name: str,
    proxy_kind: str = "synthetic",
    use_real: bool = True,
) -> tuple[ADData, ValidationSet]:
    """Hold out ``fraction`` of the nominal training images (at least one) plus as many anomalies.

    The anomalies are the dataset's real training anomalies where it has them and ``use_real``;
    otherwise ``make_anomalies(nominal_float_0_255, generator)`` turns held-out nominal images
    into anomalous ones (``proxy_kind``: "synthetic" or "outlier-exposure", ``proxy_name``: which).
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"`fraction` must be in (0, 1), got {fraction!r}")
    n_train = len(data.train_images)
    n_val = validation_size(n_train, fraction)
    if n_val >= n_train:
        raise ValueError(f"validation_fraction={fraction} leaves no training images out of {n_train}; lower it")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(n_train, generator=generator)
    nominal = data.train_images[order[:n_val]]
    real = data.train_anomalies
    anomaly_masks: Tensor | None
    if use_real and real is not None and len(real) > 0:
        picks = torch.randperm(len(real), generator=generator)[:n_val]
        anomalies = real[picks]
        masked = data.train_anomaly_masks
        anomaly_masks = None if masked is None else (masked[picks] > 0).to(torch.uint8)
        source = f"other-classes: {len(anomalies)} anomalous training images (other classes / labelled anomalies)"
    else:
        proxy = torch.randperm(n_val, generator=generator)
        originals = nominal[proxy]
        anomalies = make_anomalies(originals.float(), generator).round().clamp(0, 255).to(torch.uint8).cpu()
        if proxy_name.startswith(REPLACING_MODES):  # an outlier image replaced the whole image
            anomaly_masks = torch.ones((len(anomalies), 1, *anomalies.shape[2:]), dtype=torch.uint8)
        else:  # malformed: the pixels it changed in any channel, as malformed_normal_gt marks them
            anomaly_masks = (anomalies != originals).any(dim=1, keepdim=True).to(torch.uint8)
        source = f"{proxy_kind}: {len(anomalies)} anomalies ({proxy_name}) made from held-out nominal images"
    images = torch.cat([nominal, anomalies.cpu()])
    labels = torch.cat([torch.zeros(len(nominal), dtype=torch.long), torch.ones(len(anomalies), dtype=torch.long)])
    masks = None
    if anomaly_masks is not None:
        masks = torch.cat([torch.zeros((len(nominal), 1, *nominal.shape[2:]), dtype=torch.uint8), anomaly_masks])
    reduced = select_train(data, order[n_val:].sort().values)
    return reduced, ValidationSet(images=images, labels=labels, anomaly_source=source, masks=masks)


def masks_missing(data: DataConfig) -> str | None:
    """Why the validation anomalies of ``data`` will carry no masks, known from the settings alone (None: they may).

    "auto" takes a one-vs-rest dataset's other classes (:attr:`DatasetLoader.one_vs_rest
    <fcdd.data.base.DatasetLoader.one_vs_rest>`), as "other-classes" does: real training images,
    masked only where the data has maps.
    """
    choice = data.validation_anomalies
    real = choice == "other-classes" or (choice == "auto" and get_loader(data.dataset).one_vs_rest(data))
    if real and not data.ground_truth_maps:
        return (
            f"the validation anomalies of {data.dataset} here are real training images without masks "
            f"(validation anomalies {choice})"
        )
    return None


def hold_out_validation(config: RunConfig, supervision: Supervision) -> tuple[Supervision, ValidationSet]:
    """The run's validation split (``data.validation_fraction``) and the supervision left to train on."""
    choice, real = config.data.validation_anomalies, supervision.data.train_anomalies
    if choice == "other-classes" and (real is None or len(real) == 0):
        raise ValueError(
            f"--validation-anomalies other-classes: the training split of {config.data.dataset} class "
            f"{config.data.normal_class} holds no anomalous images (other classes or labelled anomalies); "
            "use --validation-anomalies synthetic or outlier-exposure"
        )
    maker, kind, name = validation_anomaly_maker(config, supervision)
    data, validation = split_validation(
        supervision.data,
        config.data.validation_fraction,
        seed=config.seed,
        make_anomalies=lambda images, generator: maker(images, generator).images,
        proxy_name=name,
        proxy_kind=kind,
        use_real=choice in ("auto", "other-classes"),
    )
    if data.own_images_anomalous:  # the held-out training images are the anomalous side here
        # ... and its masks mark the wrong side: no validation pixel AUC there.
        validation = dataclasses.replace(validation, labels=data.loss_labels(validation.labels), masks=None)
    return dataclasses.replace(supervision, data=data), validation
