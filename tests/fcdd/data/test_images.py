"""The shared image opener: 16-bit greyscale scaled (not clipped), one-line errors, binary masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcdd.data.images import binary_mask, convert, open_image, survey
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
