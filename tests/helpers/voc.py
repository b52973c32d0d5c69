"""A tiny Pascal VOC 2007 tree in the real layout: XML annotations, split lists, JPEGs (two of four hold a horse)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

# id -> (split, annotated objects, colour)
IMAGES = {
    "000001": ("train", ["horse", "person"], (200, 10, 10)),
    "000002": ("train", ["cat"], (10, 200, 10)),
    "000003": ("val", ["person", "horse"], (10, 10, 200)),
    "000004": ("val", ["dog"], (120, 120, 120)),
}


def annotation(objects: list[str]) -> str:
    """An ``Annotations/<id>.xml`` body naming ``objects``, each with one box."""
    body = "".join(
        f"<object><name>{name}</name><difficult>0</difficult>"
        "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>20</xmax><ymax>20</ymax></bndbox></object>"
        for name in objects
    )
    return f"<annotation><folder>VOC2007</folder><size><width>50</width><height>30</height></size>{body}</annotation>"


def write_voc(root: Path) -> Path:
    """``root/VOCdevkit/VOC2007`` holding :data:`IMAGES` (50x30 solid-colour JPEGs) and their train/val lists."""
    voc = root / "VOCdevkit" / "VOC2007"
    for sub in ("Annotations", "ImageSets/Main", "JPEGImages"):
        (voc / sub).mkdir(parents=True)
    for image_id, (_, objects, colour) in IMAGES.items():
        (voc / "Annotations" / f"{image_id}.xml").write_text(annotation(objects))
        Image.new("RGB", (50, 30), colour).save(voc / "JPEGImages" / f"{image_id}.jpg", quality=95)
    for split in ("train", "val"):
        ids = [i for i, (s, _, _) in IMAGES.items() if s == split]
        (voc / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return root
