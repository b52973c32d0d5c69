"""Pascal VOC 2007 "horse": the Clever-Hans experiment (FCDD method notes §4.5).

Layout (torchvision's ``VOCDetection``), under the data dir::

    VOCdevkit/VOC2007/Annotations/<id>.xml
    VOCdevkit/VOC2007/ImageSets/Main/train.txt, val.txt
    VOCdevkit/VOC2007/JPEGImages/<id>.jpg

(``<root>/VOC2007/`` or the ``VOC2007`` folder itself work too.) ``download=True`` fetches the
VOC2007 trainval archive with torchvision. An image "has a horse" when its annotation names at
least one object ``horse`` (difficult ones included).

Which side is nominal. The paper trains a *horse detector*: its runner sets nominal_label=1,
and because the loss hard-codes 1 = anomalous, the VOC horse images are pushed away from the
centre while the ImageNet outlier-exposure images are pulled towards it (§9.1 item 4). The
heatmaps then show what makes an image horse-like (the watermarks). Here that is explicit,
with no hidden label swap, through :data:`HORSE_IS`:

* ``"anomalous"`` (the paper's set-up, the default): ``test_labels`` are 1 for val images with a
  horse. ``train_images`` (the train images with a horse) are the loss's *anomalous* side and
  the OE source (ImageNet-1k val without VOC classes) supplies the *nominal* side:
  ``ADData.train_label`` is 1, and the runner gives the training batch label 1 to the kept VOC
  images and 0 to the OE images it mixed in (:meth:`ADData.loss_labels
  <fcdd.data.base.ADData.loss_labels>` after an ordinary supervisor). A higher score then means
  "more horse-like", and the test AUC is horse vs rest.
* ``"nominal"``: an ordinary one-class problem; horses are nominal (label 0), everything else
  and the OE images anomalous, ``ADData.train_label`` is 0.

``test_classes`` is 0 for images with a horse and -1 for the others (they belong to no class of
this one-class dataset); ``test_groups`` names them "horse" / "no horse".
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal

import torch

from fcdd.data.base import ADData, DatasetLoader, always_one_vs_rest, fixed_classes, square_shape
from fcdd.data.folder import decode_images
from fcdd.data.preprocess import Recipe, build_preprocessing

log = logging.getLogger(__name__)

NAME = "pascalvoc"
CLASS_NAMES: tuple[str, ...] = ("horse",)
HORSE_IS: Literal["anomalous", "nominal"] = "anomalous"
MEAN = (0.4469, 0.4227, 0.3906)
STD = (0.2691, 0.2659, 0.2789)
DEFAULT_IMAGE_SIZE = 224
VOC_DIR = Path("VOCdevkit") / "VOC2007"
LAYOUT = "VOCdevkit/VOC2007/{Annotations/*.xml, ImageSets/Main/{train,val}.txt, JPEGImages/*.jpg}"
# The first recipe is the default. Images are resized to the square input size (aspect ratio not
# kept, "so the watermark is kept"), so the original's RandomCrop is a no-op; it has no flip.
RECIPES: dict[str, Recipe] = {
    "aug1": Recipe(augment=True, jitter=0.01, noise=0.001),
    "none": Recipe(),
}


def search_dirs(root: str | Path) -> list[Path]:
    """Candidate VOC2007 folders, in order: torchvision's layout, ``<root>/VOC2007``, ``<root>``."""
    root = Path(root)
    return [root / VOC_DIR, root / "VOC2007", root]


def locate(root: str | Path | None, *, download: bool = False) -> Path:
    """The VOC2007 folder under ``root``; downloads it with torchvision when asked and missing."""
    if root is None:
        raise ValueError(f"dataset {NAME!r} needs a data dir; pass --data-dir DIR holding {LAYOUT}")
    for directory in search_dirs(root):
        if (directory / "Annotations").is_dir() and (directory / "ImageSets" / "Main").is_dir():
            return directory
    if download:
        from torchvision.datasets import VOCDetection  # deferred: only needed for downloads

        log.info("downloading Pascal VOC 2007 trainval to %s", root)
        VOCDetection(str(root), year="2007", image_set="trainval", download=True)
        return Path(root) / VOC_DIR
    raise FileNotFoundError(f"Pascal VOC 2007 not found under {root}; expected {LAYOUT}; pass --download to fetch it")


def read_split(voc: Path, split: str) -> list[str]:
    """Image ids of ``ImageSets/Main/<split>.txt``."""
    path = voc / "ImageSets" / "Main" / f"{split}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"VOC split file {path} is missing; expected {LAYOUT}")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def object_names(annotation: Path) -> list[str]:
    """Names of the objects annotated in one VOC XML file."""
    try:
        tree = ET.parse(annotation)
    except (OSError, ET.ParseError) as err:
        raise ValueError(f"cannot read VOC annotation {annotation}: {err}; replace the file") from err
    return [(node.text or "").strip() for node in tree.getroot().iterfind("object/name")]


def has_horse(voc: Path, ids: list[str]) -> torch.Tensor:
    """Bool per image id: does its annotation name a horse."""
    return torch.tensor([CLASS_NAMES[0] in object_names(voc / "Annotations" / f"{i}.xml") for i in ids])


classes = fixed_classes(CLASS_NAMES)


def load(
    root: Path | None,
    normal_class: int,
    *,
    preprocessing: str = "aug1",
    download: bool = False,
    one_vs_rest: bool = True,
    image_size: int | None = None,
    horse_is: Literal["anomalous", "nominal"] = HORSE_IS,
    show_progress: bool = True,
) -> ADData:
    """VOC2007 horse: train on the ``train`` images with a horse, test on all ``val`` images.

    ``horse_is`` decides which side the horses are on (see the module docstring). Images are
    resized to ``image_size`` × ``image_size`` (default 224), ignoring the aspect ratio.
    """
    if normal_class != 0:
        raise ValueError(f"dataset {NAME!r} has one class, 0 = horse; got normal_class={normal_class}")
    if horse_is not in ("anomalous", "nominal"):
        raise ValueError(f"`horse_is` must be 'anomalous' or 'nominal', got {horse_is!r}")
    size = DEFAULT_IMAGE_SIZE if image_size is None else image_size
    if size < 1:
        raise ValueError(f"`image_size` must be >= 1, got {size}")
    voc = locate(root, download=download)
    train_ids, val_ids = read_split(voc, "train"), read_split(voc, "val")
    train_horse, val_horse = has_horse(voc, train_ids), has_horse(voc, val_ids)
    horse_ids = [i for i, h in zip(train_ids, train_horse.tolist(), strict=True) if h]
    if not horse_ids:
        raise ValueError(f"no image of the VOC train split in {voc} is annotated with a horse; check {LAYOUT}")

    def paths(ids: list[str]) -> list[Path]:
        return [voc / "JPEGImages" / f"{i}.jpg" for i in ids]

    log.info("reading Pascal VOC 2007 from %s: %d train horses, %d val images", voc, len(horse_ids), len(val_ids))
    shape = (3, size, size)
    pre = build_preprocessing(preprocessing, NAME, 0, shape, mean=MEAN, std=STD, recipes=RECIPES)
    return ADData(
        name=NAME,
        class_names=CLASS_NAMES,
        normal_class=0,
        train_images=decode_images(paths(horse_ids), size, show_progress=show_progress),
        test_images=decode_images(paths(val_ids), size, show_progress=show_progress),
        test_labels=(val_horse if horse_is == "anomalous" else ~val_horse).long(),
        test_classes=torch.where(val_horse, 0, -1).long(),
        preprocessing=pre,
        test_groups=tuple("horse" if h else "no horse" for h in val_horse.tolist()),
        train_label=1 if horse_is == "anomalous" else 0,
    )


LOADER = DatasetLoader(
    load=load,
    classes=classes,
    recipes=RECIPES,
    one_vs_rest=always_one_vs_rest,  # horse against the rest of VOC's images
    input_shape=square_shape(DEFAULT_IMAGE_SIZE),
)
