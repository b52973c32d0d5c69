"""The one image path: listing, opening (16-bit greyscale scaled, one-line errors), decoding in threads, masks."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcdd.data.images import (
    MAX_DECODE_WORKERS,
    binary_mask,
    convert,
    decode_all,
    decode_in_threads,
    decode_resized,
    decode_short_side,
    decode_workers,
    is_image_name,
    list_images,
    open_image,
    survey,
)
from tests.helpers import bomb_png


def test_16_bit_greyscale_is_scaled_to_8_bits(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 100, 65535, 128]], dtype=np.uint16)  # 128/257 rounds to 0
    Image.fromarray(values).save(tmp_path / "deep.png")
    with open_image(tmp_path / "deep.png") as image:
        assert image.mode == "I;16"
        assert np.asarray(convert(image, "L")).tolist() == [[0, 100, 255, 0]]
        assert np.asarray(convert(image, "RGB"))[0, 1].tolist() == [100, 100, 100]


def test_32_bit_integer_image_holding_8_bit_values_is_kept() -> None:
    image = Image.fromarray(np.array([[0, 17, 255]], dtype=np.int32), "I")
    assert np.asarray(convert(image, "L")).tolist() == [[0, 17, 255]]


def test_8_bit_images_convert_as_pil_does() -> None:
    image = Image.fromarray(np.array([[[10, 200, 30]]], dtype=np.uint8))
    assert np.asarray(convert(image, "L")).tolist() == np.asarray(image.convert("L")).tolist()


def test_decompression_bomb_and_garbage_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot decode image .*bomb.png: .*(bomb|exceeds)") as info:
        with open_image(bomb_png(tmp_path / "bomb.png")):
            pass
    assert "\n" not in str(info.value)
    (tmp_path / "x.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match=r"cannot decode mask .*x.png"):
        with open_image(tmp_path / "x.png", "mask"):
            pass


def test_survey_finds_a_truncated_png_and_lists_sizes_and_modes(tmp_path: Path) -> None:
    Image.new("RGB", (40, 30)).save(tmp_path / "a.png")
    Image.new("L", (8, 8)).save(tmp_path / "b.png")
    assert survey([tmp_path / "a.png", tmp_path / "b.png"]) == (("40x30", "8x8"), ("RGB", "L"))
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)).save(tmp_path / "c.png")
    data = (tmp_path / "c.png").read_bytes()
    (tmp_path / "c.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cannot decode image .*c.png"):
        survey([tmp_path / "c.png"])


def test_binary_mask_threshold_and_grey_tolerance() -> None:
    mask = np.zeros((10, 10), dtype=np.uint8)
    mask[:5] = 255
    mask[9, 9] = 128  # 1 % grey pixels (an anti-aliased edge) is allowed...
    assert binary_mask(mask, "m.png").sum() == 51  # ... and counts as anomalous (> 0)
    mask[9, 8] = 128  # 2 %: a soft mask, refused
    with pytest.raises(ValueError, match=r"mask m.png is not binary: 2.0% of its pixels are neither 0 nor 255"):
        binary_mask(mask, "m.png")
    assert binary_mask(np.zeros((3, 3), dtype=np.uint8), "m.png").sum() == 0


def test_decode_short_side_crops_the_centre(tmp_path: Path) -> None:
    stripes = np.zeros((20, 60, 3), dtype=np.uint8)
    stripes[:, :20, 0] = 255  # red | green | blue thirds
    stripes[:, 20:40, 1] = 255
    stripes[:, 40:, 2] = 255
    Image.fromarray(stripes).save(tmp_path / "wide.png")
    Image.fromarray(stripes.transpose(1, 0, 2).copy()).save(tmp_path / "tall.png")
    wide = decode_short_side(tmp_path / "wide.png", 20)  # no resize: the middle 20 columns
    assert wide.shape == (20, 20, 3) and (wide == [0, 255, 0]).all()
    tall = decode_short_side(tmp_path / "tall.png", (20, 20))
    assert (tall == [0, 255, 0]).all()
    half = decode_short_side(tmp_path / "wide.png", 10)  # 30x10, then the middle 10 columns
    assert half.shape == (10, 10, 3) and (half[:, 2:8] == [0, 255, 0]).all()
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=r"cannot decode image .*bad\.jpg"):
        decode_short_side(tmp_path / "bad.jpg", 10)


def test_list_images_is_the_sorted_tree(tmp_path: Path) -> None:
    names = ["1/x.png", "1-a.png", "1.png", "2 b.jpg", "B.PNG", "a/b/c.gif", "a.bmp"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (2, 2)).save(tmp_path / name)
    listed = list_images(tmp_path)
    # Each folder's entries by name, folders in place: what sorted() gives for the paths, the
    # order every dataset has read its files in (so the same images train in the same order).
    assert listed == sorted(tmp_path / name for name in names)
    assert [p.name for p in listed] == ["x.png", "1-a.png", "1.png", "2 b.jpg", "B.PNG", "c.gif", "a.bmp"]
    assert [p.name for p in list_images(tmp_path, recursive=False)] == ["1-a.png", "1.png", "2 b.jpg", "B.PNG", "a.bmp"]


def test_image_names() -> None:
    assert is_image_name("a.PNG") and is_image_name(Path("x/y.tiff"))
    assert not is_image_name("._a.png") and not is_image_name(".a.png") and not is_image_name("a.txt")


def test_decode_in_threads_keeps_the_order_and_takes_endless_streams() -> None:
    def slow_for_small(i: int) -> int:
        time.sleep(0.002 * (5 - i % 5))  # early items finish last
        return i * i

    assert list(decode_in_threads(slow_for_small, range(40), workers=4)) == [i * i for i in range(40)]
    stream = decode_in_threads(lambda i: -i, itertools.count(), workers=2)
    assert [next(stream) for _ in range(10)] == [-i for i in range(10)]
    stream.close()
    assert 1 <= decode_workers() <= MAX_DECODE_WORKERS


def test_decode_in_threads_drops_the_queued_items_on_an_error() -> None:
    started: list[int] = []

    def fail_first(i: int) -> int:
        started.append(i)
        if i == 0:
            raise ValueError("broken file")
        time.sleep(0.05)
        return i

    with pytest.raises(ValueError, match="broken file"):
        list(decode_in_threads(fail_first, range(1000), workers=2))
    assert len(started) <= 4  # those the two threads had begun; not the 8 queued ahead, not the whole list


def test_decode_all_skips_broken_files_only_when_asked(tmp_path: Path) -> None:
    for i in range(3):
        Image.new("RGB", (4, 4), (i, 0, 0)).save(tmp_path / f"{i}.png")
    (tmp_path / "1.png").write_bytes(b"broken")
    paths = [tmp_path / f"{i}.png" for i in range(3)]
    images, kept = decode_all(paths, lambda p: decode_resized(p, (2, 2)), (3, 2, 2), skip_broken=True)
    assert kept == [0, 2] and images.shape == (2, 3, 2, 2) and images[:, 0, 0, 0].tolist() == [0, 2]
    with pytest.raises(ValueError, match=r"cannot decode image .*1\.png"):
        decode_all(paths, lambda p: decode_resized(p, (2, 2)), (3, 2, 2))
