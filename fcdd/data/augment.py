"""Batched image augmentations: whole batches at once, randomness from an explicit generator.

Images are float ``(B, C, H, W)`` on the [0, 1] scale; optional masks ``(B, 1, H, W)``
go through the geometric ops (crop, flip) with the same random parameters as their
images. Every random draw is made on ``generator.device``, one tensor per op, so the
ops cost a handful of kernel launches whatever the batch size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# ITU-R 601-2 luma weights, the ones PIL and torchvision use for RGB -> L.
_LUMA = (0.299, 0.587, 0.114)


def _rand(n: int, generator: torch.Generator, like: Tensor) -> Tensor:
    return torch.rand(n, generator=generator, device=generator.device).to(like.device)


def grayscale(x: Tensor) -> Tensor:
    """Luma of an RGB batch, ``(B, 1, H, W)``; a 1-channel batch is returned as is."""
    if x.shape[1] == 1:
        return x
    weights = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


def rgb_to_hsv(x: Tensor) -> Tensor:
    """RGB batch on [0, 1] -> HSV with every component on [0, 1] (hue as a fraction of a turn)."""
    r, g, b = x.unbind(dim=1)
    value = x.amax(dim=1)
    chroma = value - x.amin(dim=1)
    safe_chroma = torch.where(chroma > 0, chroma, 1.0)
    # Hue sector by which channel is largest: red 0, green 2, blue 4 (in sixths of a turn).
    # Grey pixels (chroma 0) get hue 0 because all three differences are 0 there.
    hue = torch.where(
        value == r,
        (g - b) / safe_chroma,
        torch.where(value == g, (b - r) / safe_chroma + 2, (r - g) / safe_chroma + 4),
    )
    hue = torch.remainder(hue / 6, 1.0)
    # chroma <= value, so black pixels (value 0) get saturation 0 without a 0/0.
    saturation = chroma / torch.where(value > 0, value, 1.0)
    return torch.stack((hue, saturation, value), dim=1)


def hsv_to_rgb(x: Tensor) -> Tensor:
    """Inverse of :func:`rgb_to_hsv`.

    Uses the closed form f(n) = V - V*S*clamp(min(k, 4 - k), 0, 1) with
    k = (n + 6H) mod 6, giving R, G, B for n = 5, 3, 1, so no per-sector branching.
    """
    hue, saturation, value = x.unbind(dim=1)
    n = torch.tensor((5.0, 3.0, 1.0), dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    k = torch.remainder(n + 6 * hue.unsqueeze(1), 6.0)
    ramp = torch.clamp(torch.minimum(k, 4 - k), 0.0, 1.0)
    return value.unsqueeze(1) * (1 - saturation.unsqueeze(1) * ramp)


def color_jitter(
    x: Tensor,
    brightness: float,
    contrast: float,
    saturation: float,
    hue: float,
    generator: torch.Generator,
) -> Tensor:
    """Random brightness, contrast, saturation and hue, one set of factors per sample.

    Factors are drawn like torchvision's ``ColorJitter``: brightness, contrast and
    saturation from U[max(0, 1-s), 1+s], the hue shift from U[-hue, hue] turns. Unlike
    torchvision the ops run in a fixed order (brightness, contrast, saturation, hue)
    and the result is not quantised to 8 bits. Saturation and hue are no-ops for
    1-channel images; a strength of 0 skips its op entirely.
    """
    if not 0 <= hue <= 0.5:
        raise ValueError(f"`hue` must be in [0, 0.5], got {hue}")
    for name, strength in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
        if strength < 0:
            raise ValueError(f"`{name}` must be >= 0, got {strength}")
    b = x.shape[0]
    u = torch.rand(b, 4, generator=generator, device=generator.device).to(x.device, x.dtype)

    def factor(column: int, strength: float) -> Tensor:
        low = max(0.0, 1.0 - strength)
        return (low + (1.0 + strength - low) * u[:, column]).view(b, 1, 1, 1)

    return _apply_jitter(
        x,
        factor(0, brightness) if brightness > 0 else None,
        factor(1, contrast) if contrast > 0 else None,
        factor(2, saturation) if saturation > 0 else None,
        ((2 * u[:, 3] - 1) * hue).view(b, 1, 1) if hue > 0 else None,
    )


def _apply_jitter(
    x: Tensor,
    brightness: Tensor | None,
    contrast: Tensor | None,
    saturation: Tensor | None,
    hue_shift: Tensor | None,
) -> Tensor:
    """Apply per-sample jitter factors ``(B, 1, 1, 1)`` and hue shifts ``(B, 1, 1)``; None skips an op."""
    if brightness is not None:
        x = (x * brightness).clamp(0.0, 1.0)
    if contrast is not None:
        grey_mean = grayscale(x).mean(dim=(1, 2, 3), keepdim=True)
        x = (contrast * x + (1 - contrast) * grey_mean).clamp(0.0, 1.0)
    if x.shape[1] == 3 and saturation is not None:
        x = (saturation * x + (1 - saturation) * grayscale(x)).clamp(0.0, 1.0)
    if x.shape[1] == 3 and hue_shift is not None:
        hsv = rgb_to_hsv(x)
        hsv = torch.stack((torch.remainder(hsv[:, 0] + hue_shift, 1.0), hsv[:, 1], hsv[:, 2]), dim=1)
        x = hsv_to_rgb(hsv)
    return x


def color_jitter_choice(
    x: Tensor,
    options: tuple[tuple[float, float, float, float], ...],
    generator: torch.Generator,
) -> Tensor:
    """Per sample, one of several ``(brightness, contrast, saturation, hue)`` jitter settings, uniformly.

    The batched form of ``RandomChoice([ColorJitter(*o) for o in options])``: each sample
    draws its option, then its factors as in :func:`color_jitter`, so samples of different
    options are jittered in the same few tensor ops. An op is skipped only when every
    option's strength for it is 0.
    """
    if not options:
        raise ValueError("`options` must hold at least one (brightness, contrast, saturation, hue) setting, got ()")
    for option in options:
        if len(option) != 4 or min(option) < 0 or option[3] > 0.5:
            raise ValueError(
                f"each jitter option must be (brightness, contrast, saturation, hue) with values >= 0 "
                f"and hue <= 0.5, got {tuple(option)}"
            )
    b = x.shape[0]
    pick = torch.randint(len(options), (b,), generator=generator, device=generator.device).to(x.device)
    u = torch.rand(b, 4, generator=generator, device=generator.device).to(x.device, x.dtype)
    strengths = torch.tensor(options, dtype=x.dtype, device=x.device)[pick]  # (B, 4)
    low = (1 - strengths[:, :3]).clamp(min=0.0)
    factors = (low + (1 + strengths[:, :3] - low) * u[:, :3]).view(b, 3, 1, 1, 1)
    used = [any(option[i] > 0 for option in options) for i in range(4)]
    return _apply_jitter(
        x,
        factors[:, 0] if used[0] else None,
        factors[:, 1] if used[1] else None,
        factors[:, 2] if used[2] else None,
        ((2 * u[:, 3] - 1) * strengths[:, 3]).view(b, 1, 1) if used[3] else None,
    )


def _windows(x: Tensor, top: Tensor, left: Tensor, h: int, w: int) -> Tensor:
    """Gather the ``h x w`` window at (top[i], left[i]) of every sample i."""
    b, c, height, width = x.shape
    rows = top.view(-1, 1) + torch.arange(h, device=x.device)  # (B, h)
    cols = left.view(-1, 1) + torch.arange(w, device=x.device)  # (B, w)
    # One gather over flattened pixels: several times faster than advanced indexing on CPU.
    flat = (rows[:, :, None] * width + cols[:, None, :]).view(b, 1, h * w).expand(b, c, h * w)
    return x.reshape(b, c, height * width).gather(2, flat).view(b, c, h, w)


def random_crop(
    x: Tensor,
    size: tuple[int, int],
    padding: int,
    generator: torch.Generator,
    masks: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Zero-pad by ``padding`` on every side, then cut a random ``size`` window per sample.

    Offsets are uniform over all windows that fit in the padded image, as in
    torchvision's ``RandomCrop(size, padding)``; masks get the same windows.
    """
    h, w = size
    if padding < 0:
        raise ValueError(f"`padding` must be >= 0, got {padding}")
    padded_h, padded_w = x.shape[2] + 2 * padding, x.shape[3] + 2 * padding
    if h > padded_h or w > padded_w:
        raise ValueError(
            f"crop size {size} is larger than the padded image ({padded_h}, {padded_w}); "
            "lower the crop size or raise the padding"
        )
    b = x.shape[0]
    top = torch.randint(0, padded_h - h + 1, (b,), generator=generator, device=generator.device).to(x.device)
    left = torch.randint(0, padded_w - w + 1, (b,), generator=generator, device=generator.device).to(x.device)
    pad = (padding,) * 4
    out = _windows(F.pad(x, pad), top, left, h, w)
    if masks is not None:
        masks = _windows(F.pad(masks, pad), top, left, h, w)
    return out, masks


def resize_nearest(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize a ``(B, C, H, W)`` batch to ``size`` with nearest-neighbour sampling.

    Samples at pixel centres (``nearest-exact``) like PIL's ``NEAREST``, which the original
    MVTec pipelines applied to PIL images (identical results at 240 -> 224); torchvision's
    tensor ``NEAREST`` would sample from the top-left corners instead. Used for images and
    masks alike, so both keep the same pixel grid.
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if x.dtype == torch.bool:
        return F.interpolate(x.to(torch.uint8), size=size, mode="nearest-exact").bool()
    return F.interpolate(x, size=size, mode="nearest-exact")


def random_crop_or_resize(
    x: Tensor,
    size: tuple[int, int],
    padding: int,
    generator: torch.Generator,
    masks: Tensor | None = None,
    p: float = 0.5,
) -> tuple[Tensor, Tensor | None]:
    """Per sample, a random ``size`` crop (probability ``p``) or a nearest resize to ``size``.

    The batched ``RandomChoice([RandomCrop(size, padding), Resize(size, NEAREST)])`` of the
    MVTec pipelines; masks get the same choice and the same crop window. Both branches
    are computed for the whole batch and the choice selects per sample (cheap at these
    sizes, and no host synchronisation on CUDA).
    """
    crop = (_rand(x.shape[0], generator, x) < p).view(-1, 1, 1, 1)
    cropped, cropped_masks = random_crop(x, size, padding, generator, masks)
    out = torch.where(crop, cropped, resize_nearest(x, size))
    if masks is not None and cropped_masks is not None:
        masks = torch.where(crop, cropped_masks, resize_nearest(masks, size))
    return out, masks


def random_hflip(
    x: Tensor,
    generator: torch.Generator,
    masks: Tensor | None = None,
    p: float = 0.5,
) -> tuple[Tensor, Tensor | None]:
    """Mirror each sample left-right with probability ``p``; masks follow their images."""
    flip = (_rand(x.shape[0], generator, x) < p).view(-1, 1, 1, 1)
    out = torch.where(flip, x.flip(-1), x)
    if masks is not None:
        masks = torch.where(flip, masks.flip(-1), masks)
    return out, masks


def center_crop(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Central ``size`` window, rounding offsets like torchvision's ``CenterCrop``."""
    h, w = size
    # Python ints even under torch.jit.trace (where shapes are tensors): an exported graph's crop is fixed.
    height, width = int(x.shape[-2]), int(x.shape[-1])
    if h > height or w > width:
        raise ValueError(f"crop size {size} is larger than the image ({height}, {width})")
    top = round((height - h) / 2.0)
    left = round((width - w) / 2.0)
    return x[..., top : top + h, left : left + w]


def gaussian_noise(x: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """Add ``std * N(0, 1)`` noise, independently per element (not clamped)."""
    noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
    return x + std * noise.to(x.device)


def black_center_bounds(height: int, width: int, fraction: float) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` of the central window covering ``fraction`` of each side.

    The margin on each side is ``floor((1 - fraction) * side / 2)`` (6 of 32, 5 of 28 for
    0.6), as in the original's black-centre experiments.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"black-centre `fraction` must be in (0, 1], got {fraction}")
    # Rounded first so that a product like 6.999999999 (float error) still floors to 7.
    top = int(round((1.0 - fraction) * height / 2, 9))
    left = int(round((1.0 - fraction) * width / 2, 9))
    return top, height - top, left, width - left


def black_center(x: Tensor, fraction: float, inverted: bool = False) -> Tensor:
    """Zero the central window (``fraction`` of each side) of every image, or, ``inverted``, all but it.

    Used by the ``aug1_blackcenter(_inverted)`` recipes on the [0, 1] scale, so zero is black.
    """
    top, bottom, left, right = black_center_bounds(x.shape[-2], x.shape[-1], fraction)
    inside = torch.zeros(x.shape[-2:], dtype=torch.bool, device=x.device)
    inside[top:bottom, left:right] = True
    return x.masked_fill(~inside if inverted else inside, 0.0)


def relative_noise(x: Tensor, scale: float, generator: torch.Generator, p: float = 0.5) -> Tensor:
    """With probability ``p`` per sample, add ``N(0, (scale * std(x_i))**2)`` noise, then clamp to [0, 1].

    ``std(x_i)`` is the sample's own standard deviation over all its pixels and channels
    (torch's default, Bessel-corrected), as in MVTec's ``x + 0.1 * x.std() * randn_like(x)``.
    """
    if scale < 0:
        raise ValueError(f"`scale` must be >= 0, got {scale}")
    b = x.shape[0]
    apply = (_rand(b, generator, x) < p).view(b, 1, 1, 1)
    noise = torch.randn(x.shape, generator=generator, device=generator.device, dtype=x.dtype).to(x.device)
    std = x.flatten(1).std(dim=1).view(b, 1, 1, 1) if x[0].numel() > 1 else torch.zeros_like(apply, dtype=x.dtype)
    return torch.where(apply, x + scale * std * noise, x).clamp(0.0, 1.0)
