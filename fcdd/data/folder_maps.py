"""Ground-truth maps of custom image folders (FCDD method notes §4.1, "custom + gtms").

Maps live in ``train_maps/`` and ``test_maps/`` next to ``train/`` and ``test/``, under the
same relative file names (``test/a/anomalous/3.jpg`` -> ``test_maps/a/anomalous/3.jpg``, or
the same name with another image extension, e.g. ``3.png``). A map is a binary image:
pixels > 0 are anomalous. An image without a map gets a constant map of its label.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from fcdd.data.images import binary_mask, convert, decode_in_threads, fit_square, list_images, open_image, read_size

log = logging.getLogger(__name__)


def map_root(root: Path, split: str) -> Path:
    """The maps folder of a split: ``train_maps`` or ``test_maps``."""
    return Path(root) / f"{split}_maps"


def find_maps(root: str | Path, images: Sequence[Path]) -> list[Path | None]:
    """The map file of each image under ``root/{train,test}/`` (None where there is none).

    The exact relative path wins; otherwise a file with the same stem and any image
    extension in the mirrored folder. Two such candidates are an error.
    """
    root = Path(root)
    listings: dict[Path, dict[str, list[Path]]] = {}
    found: list[Path | None] = []
    for image in images:
        rel = image.relative_to(root)
        target = map_root(root, rel.parts[0]).joinpath(*rel.parts[1:])
        if target.is_file():
            found.append(target)
            continue
        folder = target.parent
        if folder not in listings:  # one directory listing per folder, not one glob per image
            stems: dict[str, list[Path]] = {}
            if folder.is_dir():
                for p in list_images(folder, recursive=False):
                    stems.setdefault(p.stem, []).append(p)
            listings[folder] = stems
        candidates = listings[folder].get(target.stem, [])
        if len(candidates) > 1:
            names = ", ".join(p.name for p in candidates)
            raise ValueError(f"image {image} has several ground-truth maps in {folder} ({names}); keep one")
        found.append(candidates[0] if candidates else None)
    return found


def read_map(map_path: Path, image_path: Path, size: int) -> np.ndarray:
    """One map as a uint8 ``(size, size)`` array in {0, 1}, checked against its image.

    Binarised (> 0) at full resolution, then cut and resized (nearest neighbours) exactly
    as its image: the central square, at the square raw size.
    """
    with open_image(map_path, "ground-truth map") as file:
        map_size = file.size
        grey = np.asarray(convert(file, "L"))
    image_size = read_size(image_path)
    if map_size != image_size:
        raise ValueError(
            f"ground-truth map {map_path} is {map_size[0]}x{map_size[1]} but its image {image_path} is "
            f"{image_size[0]}x{image_size[1]}; save the map at its image's size"
        )
    binary = Image.fromarray(binary_mask(grey, map_path, "ground-truth map"))
    return np.array(fit_square(binary, size, Image.Resampling.NEAREST), dtype=np.uint8)  # writable copy


def decode_maps(
    map_paths: Sequence[Path | None], image_paths: Sequence[Path], labels: Sequence[bool], size: int
) -> Tensor:
    """Maps of a list of images as uint8 ``(N, 1, size, size)`` in {0, 1}.

    An image without a map (None) gets a constant map of its label (1 = anomalous). Files
    are read in threads (:func:`~fcdd.data.images.decode_in_threads`).
    """
    if not len(map_paths) == len(image_paths) == len(labels):
        raise ValueError(
            f"need one map path and one label per image, got {len(map_paths)} maps, "
            f"{len(image_paths)} images, {len(labels)} labels"
        )
    out = torch.empty((len(image_paths), 1, size, size), dtype=torch.uint8)

    def decode(index: int) -> None:
        path = map_paths[index]
        if path is None:
            out[index] = int(labels[index])
        else:
            out[index, 0] = torch.from_numpy(read_map(path, image_paths[index], size))

    for _ in decode_in_threads(decode, range(len(image_paths))):
        pass
    return out


def check_consistency(what: str, maps: Tensor, labels: Sequence[bool], map_paths: Sequence[Path | None]) -> None:
    """Log (once per split) maps that contradict their image's label; they are used as they are."""
    flagged = maps.flatten(1).amax(dim=1).bool()
    label = torch.tensor(list(labels), dtype=torch.bool)
    has_file = torch.tensor([p is not None for p in map_paths], dtype=torch.bool)
    nominal_marked = (flagged & ~label & has_file).nonzero().flatten().tolist()
    empty_anomalous = (~flagged & label & has_file).nonzero().flatten().tolist()
    if nominal_marked:
        log.warning(
            "%s: %d nominal images have anomalous pixels in their maps (e.g. %s); the maps are used as they are",
            what,
            len(nominal_marked),
            map_paths[nominal_marked[0]],
        )
    if empty_anomalous:
        log.warning(
            "%s: %d anomalous images have all-nominal maps (e.g. %s); the maps are used as they are",
            what,
            len(empty_anomalous),
            map_paths[empty_anomalous[0]],
        )
