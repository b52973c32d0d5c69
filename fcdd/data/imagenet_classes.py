"""ImageNet class tables: the 30 ImageNet-30 classes and the 1000 ImageNet-1k class names.

ImageNet-30 (Hendrycks et al., 2019) is the one-class ImageNet benchmark FCDD reports; its
class order here is the original's class-index order, so ``normal_class`` k means the same
class as there. The ImageNet-1k names (``imagenet_classes.json``, the ILSVRC2012 devkit's
synonym lists) are only used to exclude classes by word from the ImageNet-1k OE pool.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from importlib import resources

# (name, WordNet id), in the benchmark's class-index order.
IMAGENET30: tuple[tuple[str, str], ...] = (
    ("acorn", "n12267677"),
    ("airliner", "n02690373"),
    ("ambulance", "n02701002"),
    ("american_alligator", "n01698640"),
    ("banjo", "n02787622"),
    ("barn", "n02793495"),
    ("bikini", "n02837789"),
    ("digital_clock", "n03196217"),
    ("dragonfly", "n02268443"),
    ("dumbbell", "n03255030"),
    ("forklift", "n03384352"),
    ("goblet", "n03443371"),
    ("grand_piano", "n03452741"),
    ("hotdog", "n07697537"),
    ("hourglass", "n03544143"),
    ("manhole_cover", "n03717622"),
    ("mosque", "n03788195"),
    ("nail", "n03804744"),
    ("parking_meter", "n03891332"),
    ("pillow", "n03938244"),
    ("revolver", "n04086273"),
    ("rotary_dial_telephone", "n03187595"),
    ("schooner", "n04147183"),
    ("snowmobile", "n04252077"),
    ("soccer_ball", "n04254680"),
    ("stingray", "n01498041"),
    ("strawberry", "n07745940"),
    ("tank", "n04389033"),
    ("toaster", "n04442312"),
    ("volcano", "n09472597"),
)
IMAGENET30_NAMES: tuple[str, ...] = tuple(name for name, _ in IMAGENET30)
IMAGENET30_WNIDS: tuple[str, ...] = tuple(wnid for _, wnid in IMAGENET30)

# The Pascal VOC class words; the VOC experiment drops every ImageNet-1k class named by one (§4.5).
VOC_CLASS_WORDS: tuple[str, ...] = (
    "person",
    "bird",
    "cat",
    "cow",
    "dog",
    "horse",
    "sheep",
    "aeroplane",
    "bicycle",
    "boat",
    "bus",
    "car",
    "motorbike",
    "train",
    "bottle",
    "chair",
    "table",
    "plant",
    "sofa",
    "tv",
    "monitor",
)


@functools.cache
def imagenet1k_classes() -> dict[str, str]:
    """WordNet id -> comma-separated synonyms of the 1000 ImageNet-1k classes, in class-index order."""
    text = resources.files("fcdd.data").joinpath("imagenet_classes.json").read_text(encoding="utf-8")
    return {wnid: names for wnid, names in json.loads(text)["imagenet1k"]}


def name_words(names: str) -> set[str]:
    """The lower-case words of a synonym list: "tabby, tabby cat" -> {"tabby", "cat"}.

    Words are split at commas and white space only, so hyphenated words stay whole.
    """
    return {w for w in re.split(r"[,\s]+", names.lower()) if w}


def wnids_named_by(words: Iterable[str]) -> frozenset[str]:
    """ImageNet-1k WordNet ids whose synonyms contain one of ``words`` as a whole word (case-insensitive).

    Whole words, as the original matches them: "car" drops "sports car" and "passenger car"
    but not "cardigan"; "cat" drops "tabby cat" but not "catamaran".
    """
    wanted = {w.lower().strip() for w in words} - {""}
    return frozenset(wnid for wnid, names in imagenet1k_classes().items() if name_words(names) & wanted)
