"""One image path: fcdd/data/images.py alone opens image files, lists image folders and runs decoding threads.

Read from the source (``ast``), and checked on a folder of images and junk that every lister of a
dataset or an outlier-exposure source finds the same images.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

from tests.helpers import write_image_junk_tree

ROOT = Path(__file__).resolve().parents[1]
IMAGES = "fcdd/data/images.py"


@functools.cache
def _sources(*packages: str) -> dict[str, ast.Module]:
    return {
        path.relative_to(ROOT).as_posix(): ast.parse(path.read_text(encoding="utf-8"))
        for package in packages
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _dotted(node: ast.AST) -> str:
    """``Image.open`` for the expression ``Image.open`` (or ``PIL.Image.open``); "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def test_only_images_opens_image_files():
    found = []
    for path, tree in _sources("fcdd", "tune").items():
        for node in ast.walk(tree):
            opened = isinstance(node, ast.Attribute) and _dotted(node) in ("Image.open", "PIL.Image.open")
            imported = isinstance(node, ast.ImportFrom) and node.module == "PIL.Image"
            if (opened or (imported and any(a.name == "open" for a in node.names))) and path != IMAGES:
                found.append(f"{path}:{node.lineno}")
    assert found == [], "open images with fcdd.data.images.open_image"


def test_only_images_builds_a_thread_pool():
    pools = ("ThreadPoolExecutor", "ProcessPoolExecutor", "ThreadPool", "Pool")
    found = []
    for path, tree in _sources("fcdd").items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in ("concurrent.futures", "multiprocessing.pool"):
                if any(a.name in pools for a in node.names) and path != IMAGES:
                    found.append(f"{path}:{node.lineno}")
            elif isinstance(node, ast.Import) and any(
                a.name in ("concurrent.futures", "multiprocessing") for a in node.names
            ):
                found.append(f"{path}:{node.lineno}")
    assert found == [], "decode in threads with fcdd.data.images.decode_in_threads (one worker policy)"


def test_one_rule_for_which_files_are_images():
    found = []
    for path, tree in _sources("fcdd", "tune").items():
        if path == IMAGES:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "list_images":
                found.append(f"{path}:{node.lineno} defines list_images")
            if isinstance(node, ast.Compare) and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
                if any(_dotted(c).endswith("IMAGE_EXTENSIONS") for c in node.comparators):
                    found.append(f"{path}:{node.lineno} tests a suffix against IMAGE_EXTENSIONS")
            func = node.func if isinstance(node, ast.Call) else None
            walks = isinstance(func, ast.Attribute) and (func.attr in ("rglob", "glob") or _dotted(func) == "os.walk")
            if walks and path.startswith("fcdd/"):
                found.append(f"{path}:{node.lineno} walks a folder tree")
    assert found == [], "list images with fcdd.data.images.list_images / is_image_name"


@pytest.fixture
def junk_tree(tmp_path: Path) -> tuple[Path, set[str]]:
    return tmp_path / "images", write_image_junk_tree(tmp_path / "images")


def test_every_lister_finds_the_same_images(junk_tree: tuple[Path, set[str]]):
    from fcdd.anomalies.large_pools import imagenet22k_files
    from fcdd.anomalies.outlier_exposure import folder_images
    from fcdd.data.images import list_images

    root, images = junk_tree

    def names(paths: list[Path]) -> set[str]:
        return {p.relative_to(root).as_posix() for p in paths}

    assert names(list_images(root)) == images
    assert names(folder_images(root)) == images  # --oe-folder
    assert names(imagenet22k_files(root, ())) == images  # ImageNet-22k outlier exposure
    flat = {name for name in images if "/" not in name}
    assert names(list_images(root, recursive=False)) == flat


def test_every_dataset_reads_the_same_images(junk_tree: tuple[Path, set[str]], tmp_path: Path):
    """The custom folders (recursive) and MVTec-AD (flat folders) list a class folder of junk alike."""
    from fcdd.data.folder import make_samples
    from fcdd.data.mvtec import list_category

    root, images = junk_tree
    custom = tmp_path / "custom"
    for sub in ("train/metal/normal", "test/metal/normal", "test/metal/anomalous"):
        write_image_junk_tree(custom / sub)
    samples = make_samples(custom, one_vs_rest=False)
    train = custom / "train" / "metal" / "normal"
    assert {s.path.relative_to(train).as_posix() for s in samples.train} == images
    mvtec = tmp_path / "mvtec" / "cat"
    write_image_junk_tree(mvtec / "train" / "good")
    write_image_junk_tree(mvtec / "test" / "good")
    files = list_category(mvtec.parent, "cat")
    flat = {name for name in images if "/" not in name}
    assert {p.relative_to(mvtec / "train" / "good").as_posix() for p in files.train} == flat
