"""Confetti noise (FCDD method notes §5.3): randomly placed, rotated squares, blurred.

The original draws and rotates every blob in a per-sample, per-blob Python loop on the CPU
(§9.2). Here every blob of a whole batch is rasterised at once: blob parameters live in flat
tensors, each blob tests a window of candidate pixels (or the full pixel grid for small
images) in its own rotated frame, and the winners are scattered into a per-pixel "owner"
map. Everything runs on ``generator.device``.

Geometry conventions (ours; the original used skimage's nearest-neighbour rotation):

* Pixel ``(i, j)`` has its centre at ``(i, j)``; a blob centre is a pixel centre.
* A pixel belongs to a square of side ``s`` and angle ``a`` when its offset ``(dy, dx)``,
  rotated by ``-a`` into the square's frame as ``(u, v)``, satisfies ``-s/2 < u <= s/2``
  and ``-s/2 < v <= s/2``. The half-open interval makes an unrotated square cover exactly
  ``s * s`` pixels for odd and even ``s`` (even sides reach one pixel further to the
  bottom/right, as in the original).
* Squares near the border are clipped, not smeared onto the edge pixels.
* Within one layer, overlapping squares paint over each other (the later blob in raster
  order wins), as in the original; the two confetti layers are then summed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

# §5.3 constants.
COLOUR_LAYER_P = 1.8e-5
GREY_LAYER_P = 1.2e-5
SIDE_RANGE = (8, 54)
MAX_ROTATION_DEG = 45.0
GREY_VALUE = -255.0
COLOUR_RANGE = (-256, 0)  # integers in [-256, 0): a darkening
BLUR_KERNEL = 25
BLUR_SIGMA = 5.0


@dataclass(frozen=True)
class Blobs:
    """Square blobs of a batch, one entry per blob (all tensors of length M)."""

    image: Tensor  # int64, index of the image in the batch
    cy: Tensor  # int64, centre row
    cx: Tensor  # int64, centre column
    side: Tensor  # int64, side length in pixels
    angle: Tensor  # float32, rotation in radians

    def __len__(self) -> int:
        return int(self.image.numel())


def sample_centres(
    n: int, height: int, width: int, p: float, generator: torch.Generator, *, ensure_one: bool = True
) -> tuple[Tensor, Tensor]:
    """Bernoulli(p) blob centres per pixel; returns ``(image_index, flat_pixel_index)``.

    With ``ensure_one`` every image gets at least one centre, drawn exactly from the
    Bernoulli field conditioned on "not empty" (what the original's resample-until-non-empty
    loop produces) but without a loop: given at least one success, the first success index
    is truncated-geometric and the trials after it are unconstrained.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"blob probability `p` must be in (0, 1), got p={p}")
    dev = generator.device
    pixels = height * width
    u = torch.rand((n, pixels), generator=generator, device=dev)
    hit = u < p
    if ensure_one and n > 0:
        rows = (~hit.any(dim=1)).nonzero(as_tuple=True)[0]
        if rows.numel() > 0:
            hit[rows] = _first_success_resample(u[rows], p, generator)
    image, flat = hit.nonzero(as_tuple=True)
    return image, flat


def _first_success_resample(u: Tensor, p: float, generator: torch.Generator) -> Tensor:
    """Bernoulli(p) rows conditioned on at least one success, from rows ``u`` that had none."""
    k, pixels = u.shape
    # Every u here is >= p, so (u - p) / (1 - p) is again iid U[0, 1): reuse the numbers as
    # the fresh trials that follow the first success.
    retry = (u - p) / (1.0 - p) < p
    v = torch.rand((k, 1), generator=generator, device=u.device, dtype=torch.float64)
    log_q = math.log1p(-p)
    p_any = -math.expm1(pixels * log_q)  # P(at least one success in a row)
    # Inverse CDF of the first success index J, truncated to the row: P(J <= j) ∝ 1 - q^(j+1).
    first = torch.floor(torch.log1p(-v * p_any) / log_q).long().clamp_(0, pixels - 1)
    pos = torch.arange(pixels, device=u.device).unsqueeze(0)
    return (retry & (pos > first)) | (pos == first)


def sample_blobs(
    n: int,
    height: int,
    width: int,
    generator: torch.Generator,
    *,
    p: float,
    side_range: tuple[int, int],
    max_rotation_deg: float = 0.0,
    ensure_one: bool = True,
) -> Blobs:
    """Draw blob centres, integer sides uniform in ``side_range`` (inclusive) and angles."""
    lo, hi = side_range
    if not 1 <= lo <= hi:
        raise ValueError(f"`side_range` must satisfy 1 <= low <= high, got side_range={side_range}")
    image, flat = sample_centres(n, height, width, p, generator, ensure_one=ensure_one)
    m = image.numel()
    dev = generator.device
    side = torch.randint(lo, hi + 1, (m,), generator=generator, device=dev)
    if max_rotation_deg > 0:
        unit = torch.rand((m,), generator=generator, device=dev) * 2.0 - 1.0
        angle = unit * math.radians(max_rotation_deg)
    else:
        angle = torch.zeros((m,), device=dev)
    return Blobs(image=image, cy=flat // width, cx=flat % width, side=side, angle=angle)


def _reach(max_side: int, max_rotation_deg: float) -> int:
    """Largest integer pixel offset (per axis) a square can cover from its centre."""
    a = math.radians(min(abs(max_rotation_deg), 45.0))  # cos + sin peaks at 45°
    return math.floor(max_side / 2 * (math.cos(a) + math.sin(a))) + 1  # +1 guards rounding


def rasterise(blobs: Blobs, n: int, height: int, width: int, max_rotation_deg: float = 45.0) -> Tensor:
    """Owner map ``(n, H, W)`` int64: index into ``blobs`` of the square covering each pixel, -1 if none.

    ``max_rotation_deg`` only bounds the candidate window; the angles come from ``blobs``.
    """
    dev = blobs.image.device
    owner = torch.full((n * height * width,), -1, dtype=torch.long, device=dev)
    if len(blobs) == 0:
        return owner.view(n, height, width)
    reach = min(_reach(int(blobs.side.max()), max_rotation_deg), max(height, width) - 1)
    cy, cx = blobs.cy.unsqueeze(1), blobs.cx.unsqueeze(1)
    windowed = (2 * reach + 1) ** 2 < height * width
    if windowed:
        # Large image: test a (2r+1)^2 window of offsets around each centre.
        off = torch.arange(-reach, reach + 1, device=dev)
        dy = off.repeat_interleave(off.numel())
        dx = off.repeat(off.numel())
        rel_y, rel_x = dy.unsqueeze(0), dx.unsqueeze(0)  # (1, K), shared by all blobs
    else:
        # Small image: the whole pixel grid is cheaper than the window.
        pixel = torch.arange(height * width, device=dev)
        rel_y, rel_x = (pixel // width).unsqueeze(0) - cy, (pixel % width).unsqueeze(0) - cx  # (M, H*W)
    cos = torch.cos(blobs.angle).unsqueeze(1)
    sin = torch.sin(blobs.angle).unsqueeze(1)
    u = cos * rel_y + sin * rel_x
    v = cos * rel_x - sin * rel_y
    half = blobs.side.unsqueeze(1) / 2.0
    inside = (u > -half) & (u <= half) & (v > -half) & (v <= half)
    if windowed:
        inside &= (cy + rel_y >= 0) & (cy + rel_y < height) & (cx + rel_x >= 0) & (cx + rel_x < width)
    blob_id, cand = inside.nonzero(as_tuple=True)
    if windowed:
        pixel = (blobs.cy[blob_id] + dy[cand]) * width + blobs.cx[blob_id] + dx[cand]
    else:
        pixel = cand
    flat = blobs.image[blob_id] * (height * width) + pixel
    # amax makes "later blob wins" deterministic, also on CUDA.
    owner.scatter_reduce_(0, flat, blob_id, reduce="amax", include_self=True)
    return owner.view(n, height, width)


def paint(owner: Tensor, colours: Tensor) -> Tensor:
    """Colour an owner map: ``colours`` (M, C) per blob → float32 ``(n, C, H, W)``, zeros elsewhere."""
    n, h, w = owner.shape
    c = colours.shape[1]
    # Row M of the palette is the background, so one gather paints every pixel.
    palette = torch.cat([colours.float(), colours.new_zeros((1, c), dtype=torch.float32)]).t().contiguous()
    index = torch.where(owner >= 0, owner, colours.shape[0]).flatten()
    return palette.index_select(1, index).view(c, n, h, w).transpose(0, 1).contiguous()


def gaussian_kernel1d(kernel_size: int, sigma: float, device: torch.device | None = None) -> Tensor:
    """Normalised 1-D Gaussian taps (odd ``kernel_size``)."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"`kernel_size` must be a positive odd integer, got kernel_size={kernel_size}")
    if sigma <= 0:
        raise ValueError(f"`sigma` must be > 0, got sigma={sigma}")
    x = torch.arange(kernel_size, device=device, dtype=torch.float32) - (kernel_size - 1) / 2
    g = torch.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def reflect_blur_matrix(size: int, kernel: Tensor) -> Tensor:
    """``(size, size)`` matrix ``M`` with ``M @ x`` = 1-D convolution of ``x`` with ``kernel`` under reflect padding.

    Folding the border rule into a matrix turns the blur into two small matmuls, which run far
    faster on CPU than a single-channel ``conv2d`` (measured ~5x at 224×224) and need no
    padded copy. Offsets past the border reflect repeatedly, so tiny images work too.
    """
    k = kernel.numel()
    rows = torch.arange(size, device=kernel.device).unsqueeze(1).expand(size, k)
    src = rows + torch.arange(k, device=kernel.device) - k // 2
    if size > 1:
        period = 2 * (size - 1)
        src = src.remainder(period)
        src = torch.where(src > size - 1, period - src, src)
    else:
        src = torch.zeros_like(src)
    matrix = torch.zeros((size, size), device=kernel.device, dtype=kernel.dtype)
    return matrix.index_put_((rows.reshape(-1), src.reshape(-1)), kernel.repeat(size), accumulate=True)


def gaussian_blur(images: Tensor, kernel_size: int = BLUR_KERNEL, sigma: float = BLUR_SIGMA) -> Tensor:
    """Separable Gaussian blur of ``(n, C, H, W)`` float images, channel by channel.

    Borders use reflect padding (kornia's default, which the original used), applied as
    ``rows @ X @ cols.T`` with :func:`reflect_blur_matrix`. The dense matrices cost
    O(H²W + HW²) per channel: meant for the few-hundred-pixel images FCDD trains on.
    """
    # Built on the CPU (a few thousand entries) so the accumulated border taps sum in a fixed
    # order, also when the images live on a GPU.
    g = gaussian_kernel1d(kernel_size, sigma)
    rows = reflect_blur_matrix(images.shape[-2], g).to(images.device)
    cols = reflect_blur_matrix(images.shape[-1], g).to(images.device)
    return rows @ images.float() @ cols.t()


def confetti_noise(n: int, shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
    """Confetti noise (§5.3): a coloured and a grey layer of rotated squares, summed, then blurred.

    Layer A: centres Bernoulli(1.8e-5) per pixel (at least one per image), sides uniform in
    8..54, angles U(-45°, 45°), one colour per blob with each channel an integer in [-256, 0)
    (a single value for 1-channel images). Layer B: Bernoulli(1.2e-5), same sizes and angles,
    value -255 on all channels. Sum, then Gaussian blur (kernel 25, sigma 5). Not clamped:
    values lie in [-511, 0]; the supervisor adds them to an image and clamps.
    """
    c, h, w = shape
    dev = generator.device
    a = sample_blobs(n, h, w, generator, p=COLOUR_LAYER_P, side_range=SIDE_RANGE, max_rotation_deg=MAX_ROTATION_DEG)
    colours = torch.randint(*COLOUR_RANGE, (len(a), c), generator=generator, device=dev)
    layer_a = paint(rasterise(a, n, h, w, MAX_ROTATION_DEG), colours)
    b = sample_blobs(n, h, w, generator, p=GREY_LAYER_P, side_range=SIDE_RANGE, max_rotation_deg=MAX_ROTATION_DEG)
    grey = torch.full((len(b), c), GREY_VALUE, device=dev)
    layer_b = paint(rasterise(b, n, h, w, MAX_ROTATION_DEG), grey)
    return gaussian_blur(layer_a + layer_b, BLUR_KERNEL, BLUR_SIGMA)
