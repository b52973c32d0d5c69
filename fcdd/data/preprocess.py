"""Preprocessing pipelines (augmentation + normalisation), batched on tensors.

A pipeline is described by a :class:`Recipe` (which steps, how strong) and made
concrete by :class:`Preprocessing` (input size and the per-class normalisation
constants). Each dataset module owns its recipes; the per-class constants live in
``constants.json`` next to this file.

Order of the train steps, matching the original pipelines: colour jitter, random
crop (zero padded), horizontal flip, additive Gaussian noise, LCN, normalisation.
Images enter on the 0..255 scale and are divided by 255 first. Recipes with
``resize`` (MVTec) do the geometry first instead: random crop or resize, then the
colour jitter, the relative noise, LCN and normalisation.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import torch
from torch import Tensor

from fcdd.data.augment import (
    black_center,
    center_crop,
    color_jitter,
    color_jitter_choice,
    gaussian_noise,
    random_crop,
    random_crop_or_resize,
    random_hflip,
    relative_noise,
    resize_nearest,
)

# Far below one grey level (1/255) of deviation: only a constant image gets here.
LCN_MIN_DEVIATION = 1e-6


def lcn(x: Tensor) -> Tensor:
    """L1 local contrast normalisation of each image in a ``(B, C, H, W)`` batch.

    Subtracts the image's mean over all pixels and channels, then divides by the mean
    absolute deviation from it. Expects the [0, 1] scale (the per-class min-max
    constants are measured there). A constant image (deviation below
    ``LCN_MIN_DEVIATION``, i.e. float rounding only) is centred but not scaled, so it
    maps to ~0 instead of NaN or amplified rounding noise.
    """
    centred = x - x.mean(dim=(1, 2, 3), keepdim=True)
    deviation = centred.abs().mean(dim=(1, 2, 3), keepdim=True)
    return centred / torch.where(deviation > LCN_MIN_DEVIATION, deviation, torch.ones_like(deviation))


@dataclass(frozen=True)
class Recipe:
    """The steps of one preprocessing pipeline (one row of the method's table)."""

    augment: bool = False  # train pipeline randomises; otherwise train == test
    pad: int = 0  # zero padding around the random crop
    hflip: bool = False  # random horizontal flip, p = 0.5
    jitter: float = 0.0  # ColorJitter strength, used for brightness, contrast, saturation and hue
    noise: float = 0.0  # std of additive Gaussian noise on the [0, 1] scale
    lcn: bool = False  # LCN + per-class min-max instead of per-class mean/std
    # Black-centre experiments (§4.2), training only: zero this fraction of each side in the
    # image centre (0 = off); inverted, zero everything but that centre.
    black_center: float = 0.0
    black_center_inverted: bool = False
    # MVTec pipelines (§4.2). `resize`: the test pipeline resizes (nearest) to the input size
    # instead of centre-cropping, and the train pipeline first picks per sample a random crop
    # (with `pad`) or that resize, images and masks jointly; colour ops then follow the geometry.
    resize: bool = False
    # Per sample, one of these (brightness, contrast, saturation, hue) ColorJitters, uniformly.
    jitters: tuple[tuple[float, float, float, float], ...] = ()
    # With p = 0.5 per sample, add N(0, (rel_noise * std(x))^2) noise, then clamp to [0, 1].
    rel_noise: float = 0.0

    def __post_init__(self) -> None:
        # from_dict passes JSON lists; keep the recipe hashable and comparable.
        jitters = tuple(tuple(float(v) for v in option) for option in self.jitters)
        object.__setattr__(self, "jitters", jitters)
        if any(len(option) != 4 for option in jitters):
            raise ValueError(f"Recipe `jitters` needs (brightness, contrast, saturation, hue) 4-tuples, got {jitters}")
        if jitters and self.jitter > 0:
            raise ValueError(
                f"Recipe takes `jitter` or `jitters`, not both; got jitter={self.jitter}, jitters={jitters}"
            )
        if self.rel_noise < 0:
            raise ValueError(f"Recipe `rel_noise` must be >= 0, got {self.rel_noise}")


@dataclass(frozen=True)
class Preprocessing:
    """A concrete pipeline: recipe, network input shape and normalisation constants.

    Normalisation is ``(x - shift) / scale`` per channel: mean/std for mean/std
    pipelines, ``min`` / ``max - min`` for LCN pipelines. One value broadcasts over
    all channels.
    """

    name: str  # "lcnaug1", "aug1", "lcn", "none"
    input_shape: tuple[int, int, int]  # (C, h, w) after cropping
    shift: tuple[float, ...]
    scale: tuple[float, ...]
    recipe: Recipe = field(default_factory=Recipe)

    def __post_init__(self) -> None:
        channels = self.input_shape[0]
        for name, values in (("shift", self.shift), ("scale", self.scale)):
            if len(values) not in (1, channels):
                raise ValueError(f"Preprocessing `{name}` needs 1 or {channels} values, got {len(values)}")
        if min(self.scale) <= 0:
            raise ValueError(f"Preprocessing `scale` must be > 0, got {self.scale}")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, so a trained run can preprocess new images the same way."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Preprocessing:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=raw["name"],
            input_shape=tuple(raw["input_shape"]),
            shift=tuple(raw["shift"]),
            scale=tuple(raw["scale"]),
            recipe=Recipe(**raw["recipe"]),
        )

    def _normalise(self, x: Tensor) -> Tensor:
        if self.recipe.lcn:
            x = lcn(x)
        shift = torch.tensor(self.shift, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        scale = torch.tensor(self.scale, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return (x - shift) / scale

    def _test_geometry(self, x: Tensor) -> Tensor:
        size = self.input_shape[1:]
        return resize_nearest(x, size) if self.recipe.resize else center_crop(x, size)

    def test(self, images: Tensor) -> Tensor:
        """Deterministic pipeline: 0..255 (float or uint8) -> centre crop (or resize) -> normalised float32."""
        x = images.to(torch.float32) / 255
        return self._normalise(self._test_geometry(x))

    def test_masks(self, masks: Tensor) -> Tensor:
        """Ground-truth maps ``(B, 1, H, W)`` at raw size -> where :meth:`test` puts their pixels (input size)."""
        return self._test_geometry(masks)

    def train(
        self,
        images: Tensor,
        generator: torch.Generator,
        masks: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Random pipeline for a training batch on the 0..255 scale.

        ``masks`` ``(B, 1, H, W)`` are cropped, resized and flipped with their images
        (never colour-jittered or noised) and returned at the input size.
        """
        recipe = self.recipe
        size = self.input_shape[1:]
        if not recipe.augment:
            return self.test(images), None if masks is None else self.test_masks(masks)
        x = images.to(torch.float32) / 255
        if recipe.resize:
            x, masks = random_crop_or_resize(x, size, recipe.pad, generator, masks)
        if recipe.jitters:
            x = color_jitter_choice(x, recipe.jitters, generator)
        if recipe.jitter > 0:
            j = recipe.jitter
            x = color_jitter(x, j, j, j, j, generator)
        if not recipe.resize:
            x, masks = random_crop(x, size, recipe.pad, generator, masks)
        if recipe.hflip:
            x, masks = random_hflip(x, generator, masks)
        if recipe.noise > 0:
            x = gaussian_noise(x, recipe.noise, generator)
        if recipe.rel_noise > 0:
            x = relative_noise(x, recipe.rel_noise, generator)
        if recipe.black_center > 0:  # after the noise, before normalising: zero means black
            x = black_center(x, recipe.black_center, recipe.black_center_inverted)
        return self._normalise(x), masks


@dataclass(frozen=True)
class ClassConstants:
    """Per-nominal-class normalisation constants; one value per channel (or one for all)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    lcn_min: tuple[float, ...]
    lcn_max: tuple[float, ...]


@functools.cache
def load_constants() -> dict[str, Any]:
    """The parsed ``constants.json`` shipped with the package (read once)."""
    text = resources.files("fcdd.data").joinpath("constants.json").read_text(encoding="utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


def class_constants(dataset: str, normal_class: int) -> ClassConstants:
    """Normalisation constants of ``dataset`` when ``normal_class`` is nominal."""
    table = load_constants()
    if dataset not in table:
        known = sorted(k for k in table if not k.startswith("_"))
        raise ValueError(f"no normalisation constants for dataset {dataset!r}; known: {known}")
    block = table[dataset]
    n = len(block["mean"])
    if not 0 <= normal_class < n:
        raise ValueError(f"`normal_class` for {dataset} must be in [0, {n}), got {normal_class}")
    return ClassConstants(
        *(tuple(float(v) for v in block[key][normal_class]) for key in ("mean", "std", "lcn_min", "lcn_max"))
    )


def pick_recipe(recipes: Mapping[str, Recipe], name: str, dataset: str) -> Recipe:
    """Look ``name`` up in a dataset's recipes; unknown names raise a ``ValueError`` with suggestions."""
    if name not in recipes:
        close = difflib.get_close_matches(name, recipes)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown preprocessing {name!r} for dataset {dataset!r}; choose one of {sorted(recipes)}{hint}"
        )
    return recipes[name]


def build_preprocessing(
    name: str,
    dataset: str,
    normal_class: int,
    raw_shape: tuple[int, int, int],
    *,
    recipes: Mapping[str, Recipe],
    input_size: int | None = None,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
    constants: ClassConstants | None = None,
) -> Preprocessing:
    """Build the named pipeline of ``dataset`` for images of ``raw_shape``.

    ``input_size`` (square) defaults to the raw size. ``mean``/``std`` override the
    stored constants (custom data passes its empirical ones); LCN pipelines always
    use the stored min-max constants. ``recipes`` are the dataset module's own
    (``RECIPES``). ``constants`` replaces the stored table entry altogether (datasets
    whose classes are not indexed like the table, e.g. MVTec categories found on disk).
    """
    recipe = pick_recipe(recipes, name, dataset)
    channels, height, width = raw_shape
    size = height if input_size is None else input_size
    limit = min(height, width)  # the test pipeline centre-crops, so no larger than the raw image
    if not 0 < size <= limit:
        raise ValueError(f"`input_size` must be in [1, {limit}] for raw images of shape {tuple(raw_shape)}, got {size}")
    if recipe.lcn:
        constants = class_constants(dataset, normal_class) if constants is None else constants
        shift = constants.lcn_min
        scale = tuple(hi - lo for lo, hi in zip(constants.lcn_min, constants.lcn_max, strict=True))
    else:
        if mean is None or std is None:
            if constants is None:
                constants = class_constants(dataset, normal_class)
            mean = constants.mean if mean is None else mean
            std = constants.std if std is None else std
        shift, scale = tuple(mean), tuple(std)
    return Preprocessing(name, (channels, size, size), shift, scale, recipe)
