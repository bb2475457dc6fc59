"""Line crop normalisation: odd inputs are handled or rejected with a clear error, never a crash."""

from __future__ import annotations

import numpy as np
import pytest

from ocr_server.recognition.lines import MAX_WIDTH, MIN_WIDTH, LineImageError, is_blank, pad_batch, prepare_line


def test_gray_and_colour_give_the_same_tensor() -> None:
    gray = np.random.default_rng(0).integers(0, 255, (40, 300), dtype=np.uint8)
    bgr = np.repeat(gray[:, :, None], 3, axis=2)
    bgra = np.concatenate([bgr, np.full((40, 300, 1), 255, np.uint8)], axis=2)
    a, b, c = (prepare_line(x, 32) for x in (gray, bgr, bgra))
    assert a.shape == (32, 240)
    assert np.allclose(a, b, atol=1 / 127.5) and np.allclose(a, c, atol=1 / 127.5)
    assert a.min() >= -1.0 and a.max() <= 1.0


@pytest.mark.parametrize("shape", [(0, 10), (10, 0), (0, 0, 3)])
def test_empty_images_are_rejected(shape: tuple[int, ...]) -> None:
    with pytest.raises(LineImageError, match="empty"):
        prepare_line(np.zeros(shape, np.uint8), 32)


def test_tall_and_tiny_images_get_min_width() -> None:
    assert prepare_line(np.full((500, 20), 200, np.uint8), 32).shape == (32, MIN_WIDTH)
    assert prepare_line(np.full((1, 1), 200, np.uint8), 32).shape == (32, 32)


def test_huge_width_is_squeezed_not_rejected() -> None:
    assert prepare_line(np.full((32, 100_000), 255, np.uint8), 32).shape == (32, MAX_WIDTH)


def test_light_text_on_dark_is_inverted() -> None:
    dark = np.full((32, 100), 20, np.uint8)
    dark[10:20, 10:90] = 240
    light = 255 - dark
    assert np.allclose(prepare_line(dark, 32), prepare_line(light, 32))


@pytest.mark.parametrize("background", [60, 120, 150])
def test_white_text_on_mid_tone_is_inverted(background: int) -> None:
    """A sign's white letters on a coloured panel: the panel's gray is mid-tone, not dark."""
    img = np.full((40, 120), background, np.uint8)
    img[12:28, 10:110:6] = 250  # strokes
    out = prepare_line(img, 32)
    assert out[0, 0] == pytest.approx(out.max())  # the background became the lightest level
    assert out.min() < out[0, 0] - 0.5  # and the strokes are dark


@pytest.mark.parametrize("value", [0, 128, 255])
def test_blank_crop_is_left_alone(value: int) -> None:
    out = prepare_line(np.full((32, 64), value, np.uint8), 32)
    assert np.allclose(out, value / 127.5 - 1.0, atol=1e-6)


def test_other_dtypes() -> None:
    f = np.random.default_rng(1).random((32, 64)).astype(np.float32)
    u16 = (f * 65535).astype(np.uint16)
    assert prepare_line(f, 32).shape == prepare_line(u16, 32).shape == (32, 64)
    with pytest.raises(LineImageError):
        prepare_line(np.zeros((2, 2, 2, 2), np.uint8), 32)
    with pytest.raises(LineImageError):
        prepare_line("not an image", 32)  # type: ignore[arg-type]


def test_pad_batch_pads_right_with_white() -> None:
    a, b = np.zeros((32, 10), np.float32), np.zeros((32, 20), np.float32)
    batch = pad_batch([a, b])
    assert batch.shape == (2, 1, 32, 20)
    assert (batch[0, 0, :, 10:] == 1.0).all()


@pytest.mark.parametrize("value", [0, 128, 255])
def test_flat_and_noisy_paper_is_blank(value: int) -> None:
    rng = np.random.default_rng(1)
    flat = np.full((32, 200), value, np.uint8)
    noisy = np.clip(rng.normal(230, 3, (40, 300)), 0, 255).astype(np.uint8)
    assert is_blank(prepare_line(flat, 32))
    assert is_blank(prepare_line(noisy, 32))


def test_a_single_full_stop_is_not_blank() -> None:
    """The smallest real reading: a dot of a few pixels on a short crop."""
    img = np.full((32, 24), 235, np.uint8)
    img[24:28, 10:14] = 30
    assert not is_blank(prepare_line(img, 32))


def test_faint_fax_text_is_not_blank() -> None:
    img = np.full((32, 200), 200, np.uint8)
    img[10:22, 20:180:6] = 140  # strokes only 60 levels darker than the paper
    assert not is_blank(prepare_line(img, 32))
