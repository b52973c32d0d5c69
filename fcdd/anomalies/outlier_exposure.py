"""Outlier exposure (FCDD method notes §5.2, §5.4): real natural images used as anomalies.

:class:`OutlierPool` holds them, and this module builds the small pools: any folder of images
(:func:`load_folder_pool`) and CIFAR-100 (:func:`load_cifar100_pool`). The pools of the large
datasets (EMNIST, ImageNet-22k, ImageNet-1k val), capped to fit in memory, are built in
:mod:`fcdd.anomalies.large_pools`; which ``noise_mode`` loads which pool is said in
:mod:`fcdd.anomalies.oe_modes`.

A pool of ``K`` images is decoded and resized once per run into one uint8 tensor; each
training batch then draws from it with a single indexing op (the original read one image at
a time through a nested DataLoader, §9.2). ``--oe-limit`` becomes ``limit``: a random subset
of files drawn once with ``seed`` *before* decoding, so only those files are read.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from fcdd.data.cifar import read_pickle
from fcdd.data.images import IMAGE_EXTENSIONS, decode_all, decode_resized, list_images

log = logging.getLogger(__name__)

CIFAR100_TRAIN = Path("cifar-100-python") / "train"


class OutlierPool:
    """A fixed set of real images used as anomalies; call it like any anomaly source.

    ``masks`` (optional, uint8 ``(K, 1, H, W)`` in {0, 1}) mark each image's anomalous
    pixels, for sources with ground truth (real MVTec defects); :meth:`sample_with_masks`
    draws images together with their masks.
    """

    def __init__(self, images: Tensor, masks: Tensor | None = None) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[0] == 0:
            raise ValueError(
                "`images` must be a non-empty uint8 tensor (K, C, H, W), "
                f"got dtype={images.dtype} shape={tuple(images.shape)}"
            )
        if masks is not None and (
            masks.dtype != torch.uint8 or tuple(masks.shape) != (images.shape[0], 1, *images.shape[2:])
        ):
            k, _, h, w = images.shape
            raise ValueError(
                f"`masks` must be a uint8 tensor of shape ({k}, 1, {h}, {w}) matching the images, "
                f"got dtype={masks.dtype} shape={tuple(masks.shape)}"
            )
        self.images = images
        self.masks = masks

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of every image in the pool."""
        c, h, w = self.images.shape[1:]
        return int(c), int(h), int(w)

    def __call__(self, n: int, shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
        """Draw ``n`` images uniformly with replacement → float32 ``(n, C, H, W)`` on ``generator.device``."""
        return self.images[self._draw(n, shape, generator)].to(generator.device).float()

    def _draw(self, n: int, shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
        if tuple(shape) != self.shape:
            raise ValueError(
                f"outlier pool holds images of shape {self.shape}, got a request for shape={tuple(shape)}; "
                "load the pool with the dataset's raw (C, H, W)"
            )
        if n < 0:
            raise ValueError(f"number of anomalies `n` must be >= 0, got n={n}")
        return self.indices(n, generator).to(self.images.device)

    def indices(self, n: int, generator: torch.Generator) -> Tensor:
        """Which ``n`` pool images a draw takes: uniform with replacement (a subclass may draw otherwise)."""
        return torch.randint(len(self), (n,), generator=generator, device=generator.device)

    def sample_with_masks(
        self, n: int, shape: tuple[int, int, int], generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """Draw ``n`` images with their masks → float32 ``(n, C, H, W)`` and float32 ``(n, 1, H, W)`` in {0, 1}.

        Draws the same images as calling the pool with the same generator state.
        """
        if self.masks is None:
            raise ValueError("this outlier pool has no masks; ground-truth anomalies need a pool built with masks")
        idx = self._draw(n, shape, generator)
        return self.images[idx].to(generator.device).float(), self.masks[idx].to(generator.device).float()

    def to(self, device: torch.device | str) -> OutlierPool:
        """Pool with its images (and masks) on ``device`` (keep it where the generator lives to avoid copies)."""
        return OutlierPool(self.images.to(device), None if self.masks is None else self.masks.to(device))

    def __repr__(self) -> str:
        masks = "" if self.masks is None else ", masks"
        return f"OutlierPool(K={len(self)}, shape={self.shape}{masks}, device={self.images.device})"


def check_pool_shape(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    """``shape`` as ints, when it is a (C, H, W) a pool can hold; a ``ValueError`` otherwise."""
    if len(shape) != 3 or shape[0] not in (1, 3) or min(shape[1:]) < 1:
        raise ValueError(f"`shape` must be (C, H, W) with C in (1, 3) and H, W >= 1, got shape={tuple(shape)}")
    c, h, w = (int(s) for s in shape)
    return c, h, w


def seeded_subset(count: int, limit: int | None, seed: int) -> Tensor:
    """Sorted indices of a random subset of ``limit`` out of ``count`` items, drawn once with ``seed``."""
    if limit is not None and limit <= 0:
        raise ValueError(f"`limit` (--oe-limit) must be a positive number of images or None, got limit={limit}")
    if limit is None or limit >= count:
        return torch.arange(count)
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(count, generator=gen)[:limit].sort().values


def folder_images(folder: str | Path) -> list[Path]:
    """The image files under an outlier-exposure folder (recursive), in the order its pool holds them.

    The files are those of :func:`~fcdd.data.images.list_images`; their order, by relative path
    as text, is the one seeded ``--oe-limit`` subsets have always indexed into, so a seed keeps
    drawing the same files.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(
            f"outlier-exposure folder {str(root)!r} does not exist; pass --oe-folder DIR with images"
        )
    files = list_images(root)
    if not files:
        raise ValueError(
            f"no images in outlier-exposure folder {str(root)!r}; looked for {', '.join(sorted(IMAGE_EXTENSIONS))}"
        )
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def load_folder_pool(
    folder: str | Path,
    shape: tuple[int, int, int],
    *,
    limit: int | None = None,
    seed: int = 0,
    show_progress: bool = True,
) -> OutlierPool:
    """Decode every image under ``folder`` (or a seeded subset of ``limit``) into an :class:`OutlierPool`.

    Images become RGB (C=3) or greyscale 'L' (C=1) and are resized straight to ``(H, W)``
    (bilinear, antialiased, aspect ratio not kept, like the original's OE path).
    """
    c, h, w = check_pool_shape(shape)
    files = folder_images(folder)
    keep = seeded_subset(len(files), limit, seed)
    files = [files[i] for i in keep.tolist()]
    mode = "L" if c == 1 else "RGB"
    images, _ = decode_all(
        files, lambda p: decode_resized(p, (h, w), mode), (c, h, w), show_progress=show_progress, desc="outlier images"
    )
    log.info("outlier pool: %d images from %s at %s", len(files), folder, (c, h, w))
    return OutlierPool(torch.from_numpy(images))


def _luma(rgb: Tensor) -> Tensor:
    """ITU-R 601-2 luma with PIL's 'L' integer rounding: (19595 R + 38470 G + 7471 B + 2^15) >> 16."""
    r, g, b = rgb.long().unbind(dim=1)
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).to(torch.uint8).unsqueeze(1)


def resize_uint8(images: Tensor, height: int, width: int, chunk: int = 1024) -> Tensor:
    """Bilinear antialiased resize of uint8 ``(N, C, h, w)`` in chunks (float copies stay small)."""
    out = torch.empty((images.shape[0], images.shape[1], height, width), dtype=torch.uint8)
    for start in range(0, images.shape[0], chunk):
        part = images[start : start + chunk].float()
        part = F.interpolate(part, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
        out[start : start + chunk] = part.round_().clamp_(0, 255).to(torch.uint8)
    return out


def read_cifar100(path: Path) -> np.ndarray:
    """The ``(N, 3072)`` uint8 images of CIFAR-100's python pickle, read with the safe CIFAR reader."""
    data = read_pickle(path, "CIFAR-100 pickle").get(b"data")
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"{str(path)!r} is not a CIFAR-100 pickle (expected b'data' of shape (N, 3072)); re-download it"
        )
    return data


def load_cifar100_pool(
    root: str | Path,
    shape: tuple[int, int, int],
    *,
    limit: int | None = None,
    seed: int = 0,
    download: bool = False,
) -> OutlierPool:
    """CIFAR-100 **train** split (50 000 images) as an :class:`OutlierPool` at ``shape``.

    Reads the official python pickle ``<root>/cifar-100-python/train``. Greyscale (C=1) uses
    the same luma as PIL's 'L'; other sizes than 32×32 are resized bilinearly with
    antialiasing. Downloads only when ``download=True``.
    """
    c, h, w = check_pool_shape(shape)
    path = Path(root) / CIFAR100_TRAIN
    if not path.is_file():
        if not download:
            raise FileNotFoundError(
                f"CIFAR-100 not found at {str(path)!r}; download it (download=True) or use --oe-folder DIR with images"
            )
        from torchvision.datasets import CIFAR100  # imported lazily: only the download needs it

        CIFAR100(str(root), train=True, download=True)
    data = read_cifar100(path)
    keep = seeded_subset(data.shape[0], limit, seed)
    images = torch.from_numpy(np.ascontiguousarray(data[keep.numpy()], dtype=np.uint8)).view(-1, 3, 32, 32)
    if c == 1:
        images = _luma(images)
    if (h, w) != (32, 32):
        images = resize_uint8(images, h, w)
    log.info("outlier pool: %d CIFAR-100 images at %s", images.shape[0], (c, h, w))
    return OutlierPool(images.contiguous())
