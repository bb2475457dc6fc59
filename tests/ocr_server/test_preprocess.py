"""Preprocessing: pure functions of image + config; geometry maps boxes back to the input."""

from __future__ import annotations

import numpy as np
import pytest
from server_support import text_page

from ocr_server.config import PreprocessingConfig
from ocr_server.imaging.preprocess import (
    PageGeometry,
    apply_clahe,
    binarize,
    denoise,
    estimate_skew,
    fit_scale,
    preprocess,
    rotate,
)


def cfg(**kwargs: object) -> PreprocessingConfig:
    return PreprocessingConfig(**kwargs)


def test_fit_scale() -> None:
    assert fit_scale(4000, 1000, 2000) == 0.5
    assert fit_scale(1000, 800, 2000) == 1.0
    assert fit_scale(300, 100, 2000, min_side=600) == 2.0
    assert fit_scale(300, 100, 2000, min_side=0) == 1.0


def test_size_limits_are_applied() -> None:
    page = text_page(3000, 1000)
    out = preprocess(page, cfg(max_side=1500, deskew=False))
    assert max(out.image.shape) == 1500 and out.geometry.scale == 0.5
    small = preprocess(text_page(300, 200), cfg(min_side=600, max_side=2000, deskew=False))
    assert max(small.image.shape) == 600


def test_grayscale_and_colour_paths() -> None:
    bgr = np.dstack([text_page()] * 3)
    gray = preprocess(bgr, cfg())
    assert gray.image.ndim == 2 and gray.gray is gray.image
    colour = preprocess(bgr, cfg(grayscale=False))
    assert colour.image.ndim == 3 and colour.gray.ndim == 2
    assert colour.image.shape[:2] == colour.gray.shape


def test_clahe_keeps_shape_and_raises_contrast() -> None:
    flat = np.tile(np.linspace(100, 140, 200, dtype=np.uint8), (100, 1))
    out = apply_clahe(flat, 4.0, 8)
    assert out.shape == flat.shape and out.dtype == np.uint8
    assert int(out.max()) - int(out.min()) > int(flat.max()) - int(flat.min())


def test_denoise_zero_is_a_no_op_and_positive_smooths() -> None:
    rng = np.random.default_rng(0)
    noisy = np.clip(text_page(200, 100, 2).astype(int) + rng.normal(0, 25, (100, 200)), 0, 255).astype(np.uint8)
    assert denoise(noisy, 0) is noisy
    assert denoise(noisy, 15).std() < noisy.std()


@pytest.mark.parametrize("threshold", [0, 128])
def test_binarize_gives_black_ink_on_white(threshold: int) -> None:
    out = binarize(text_page(), threshold)
    assert set(np.unique(out)) <= {0, 255}
    assert (out == 255).mean() > 0.8  # mostly background


@pytest.mark.parametrize("angle", [-4.0, 2.5, 6.0])
def test_deskew_finds_the_rotation(angle: float) -> None:
    skewed, _ = rotate(text_page(900, 600, 8), angle)
    assert estimate_skew(skewed, 10.0) == pytest.approx(-angle, abs=0.3)


@pytest.mark.parametrize(("columns", "stagger"), [(2, 7), (3, 13)])
def test_columns_with_offset_baselines_are_not_skew(columns: int, stagger: int) -> None:
    """One profile of the whole page lines the columns' rows up at 0.6-1.8°; per strip, each is straight."""
    from bench.column_pages import SERIF, columns_page
    from tests.needs import missing

    if not SERIF.is_file():
        missing(f"DejaVu Serif not found at {SERIF} (make setup-apt)")
    page = columns_page(columns, lines_per_column=12, stagger=stagger).image
    assert estimate_skew(page, 10.0) == 0.0
    skewed, _ = rotate(page, 2.0)
    assert estimate_skew(skewed, 10.0) == pytest.approx(-2.0, abs=0.3)


def test_deskew_respects_limits_and_blank_pages() -> None:
    skewed, _ = rotate(text_page(900, 600, 8), 6.0)
    assert abs(estimate_skew(skewed, 3.0)) <= 3.0
    assert estimate_skew(skewed, 0.0) == 0.0
    assert estimate_skew(np.full((300, 300), 255, np.uint8), 10.0) == 0.0
    assert estimate_skew(text_page(900, 600, 8), 10.0) == 0.0  # straight stays straight


def test_preprocess_deskews_and_geometry_maps_back() -> None:
    page = text_page(900, 600, 8)
    skewed, _ = rotate(page, 5.0)
    out = preprocess(skewed, cfg(max_side=800))
    assert out.geometry.angle == pytest.approx(-5.0, abs=0.3)
    assert out.geometry.matrix is not None
    # the centre of the processed page is the centre of the input
    h, w = out.image.shape
    x1, y1, x2, y2 = out.geometry.to_source(
        (w // 2 - 1, h // 2 - 1, w // 2 + 1, h // 2 + 1),
        source_scale=1.0,
        width=skewed.shape[1],
        height=skewed.shape[0],
    )
    assert abs((x1 + x2) / 2 - skewed.shape[1] / 2) < 4 and abs((y1 + y2) / 2 - skewed.shape[0] / 2) < 4


def test_geometry_scales_and_clips() -> None:
    geo = PageGeometry(scale=0.5, angle=0.0, matrix=None)
    assert geo.to_source((10, 20, 30, 40), source_scale=1.0, width=1000, height=1000) == (20, 40, 60, 80)
    assert geo.to_source((10, 20, 30, 40), source_scale=0.5, width=1000, height=1000) == (40, 80, 120, 160)
    assert geo.to_source((10, 20, 900, 900), source_scale=1.0, width=100, height=100) == (20, 40, 100, 100)


def test_preprocess_is_pure() -> None:
    page = text_page()
    before = page.copy()
    config = cfg(binarize=True, denoise_strength=5)
    a, b = preprocess(page, config), preprocess(page, config)
    assert np.array_equal(page, before)
    assert np.array_equal(a.image, b.image)
