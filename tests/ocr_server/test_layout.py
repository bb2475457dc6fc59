"""Reading order: columns of running text are read whole, one after another; tables, receipts and
forms keep their row order (boxes made by hand, and rendered pages through the real detector)."""

from __future__ import annotations

import pytest

from bench.column_pages import SERIF, SERIF_BOLD, RenderedPage, columns_page, table_page
from ocr_server.config import DetectionConfig
from ocr_server.detection.layout import ColumnRule, reading_blocks, reading_order, row_order
from ocr_server.detection.opencv import detect_blocks, detect_lines
from tests.needs import missing, shared_dataset

Box = tuple[int, int, int, int]


def column(
    x: int, width: int, top: int, n: int, pitch: int = 30, height: int = 22, short_last: bool = True
) -> list[Box]:
    """``n`` lines of running text at ``x``: full width, the paragraph's last line shorter."""
    out = [(x, top + k * pitch, x + width - (k % 3) * 8, top + k * pitch + height) for k in range(n)]
    if short_last:
        x1, y1, _, y2 = out[-1]
        out[-1] = (x1, y1, x1 + width // 3, y2)
    return out


def test_two_columns_under_a_title_read_column_by_column() -> None:
    title = (60, 20, 900, 60)
    left, right = column(60, 500, 100, 10), column(620, 500, 100, 10)
    footer = (580, 500, 610, 522)  # a centred page number, in the gutter
    shuffled = [footer, *right[::-1], *left, title]
    assert reading_order(shuffled) == [title, *left, *right, footer]


def test_a_title_that_starts_at_the_left_column_is_not_part_of_it() -> None:
    """The title shares the left column's left edge; the column's right edge is its lines', not the title's."""
    title = (60, 20, 1000, 60)
    left, right = column(60, 500, 100, 5), column(620, 500, 107, 5)
    assert reading_order([*right, *left, title]) == [title, *left, *right]


def test_blocks_are_the_title_each_column_and_the_footer() -> None:
    title = (60, 20, 900, 60)
    left, right = column(60, 500, 100, 10), column(620, 500, 100, 10)
    footer = (580, 500, 610, 522)
    assert reading_blocks([footer, *right, *left, title]) == [[title], left, right, [footer]]


def test_a_page_without_columns_is_one_block() -> None:
    rows = [[(60, y, 300, y + 22), (560, y, 590, y + 22)] for y in range(60, 400, 40)]
    boxes = [b for row in rows for b in row]
    assert reading_blocks(boxes) == [boxes]


def test_three_columns_with_staggered_baselines() -> None:
    cols = [column(60 + k * 380, 340, 100 + 11 * k, 12, height=20) for k in range(3)]
    assert reading_order([b for c in cols for b in c]) == [b for c in cols for b in c]


def test_a_heading_across_both_columns_cuts_them_into_bands() -> None:
    """Text above a spanning heading is read (both columns) before the heading and what follows it."""
    top_left, top_right = column(60, 500, 100, 5), column(620, 500, 100, 5)
    heading = (60, 260, 1000, 290)
    low_left, low_right = column(60, 500, 310, 6), column(620, 500, 310, 6)
    boxes = [*top_left, *top_right, heading, *low_left, *low_right]
    assert reading_order(boxes[::-1]) == boxes


def test_an_indented_first_line_stays_with_its_column() -> None:
    """A paragraph that starts at the top of the right column is not read before the left column."""
    title = (60, 20, 900, 60)
    left, right = column(60, 500, 100, 10), column(620, 500, 100, 10)
    right[0] = (650, right[0][1], 1120, right[0][3])
    footer = (580, 500, 610, 522)
    assert reading_order([*right, footer, title, *left]) == [title, *left, *right, footer]


def test_a_table_of_short_cells_keeps_rows() -> None:
    rows = [[(60, y, 300, y + 22), (560, y, 590, y + 22), (800, y, 870, y + 22)] for y in range(60, 400, 40)]
    boxes = [b for row in rows for b in row]
    assert reading_order(boxes) == row_order(boxes) == boxes


def test_long_descriptions_beside_short_prices_keep_rows() -> None:
    """An invoice: the description column looks like running text, the price column does not."""
    desc = column(60, 600, 60, 8, short_last=False)
    prices = [(900, b[1], 980, b[3]) for b in desc]
    boxes = [b for pair in zip(desc, prices, strict=True) for b in pair]
    assert reading_order(boxes) == boxes


def test_columns_need_enough_lines() -> None:
    boxes = [*column(60, 500, 100, 2, short_last=False), *column(620, 500, 100, 2, short_last=False)]
    assert reading_order(boxes) == row_order(boxes)
    assert reading_order(boxes, rule=ColumnRule(min_lines=2)) != row_order(boxes)


def _order_of(detected: list[Box], page: RenderedPage) -> list[int]:
    """For each detected box, the index of the rendered line it covers most."""

    def overlap(a: Box, b: Box) -> int:
        return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))

    return [max(range(len(page.boxes)), key=lambda i: overlap(box, page.boxes[i])) for box in detected]


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(lambda: columns_page(2), id="two columns"),
        pytest.param(lambda: columns_page(2, stagger=9), id="two columns, baselines apart"),
        pytest.param(lambda: columns_page(3, size=16), id="three columns"),
        pytest.param(lambda: columns_page(2, title=False), id="two columns, no title"),
        pytest.param(lambda: columns_page(1), id="one column"),
        pytest.param(lambda: table_page(), id="table"),
    ],
)
def test_detector_reads_rendered_pages_in_reading_order(page) -> None:  # type: ignore[no-untyped-def]
    if not (SERIF.is_file() and SERIF_BOLD.is_file()):
        missing(f"DejaVu Serif not found at {SERIF.parent} (apt: fonts-dejavu-core; make setup-apt)")
    rendered: RenderedPage = page()
    detected = detect_lines(rendered.image, DetectionConfig())
    assert len(detected) == len(rendered.boxes)
    assert _order_of(detected, rendered) == list(range(len(rendered.boxes)))


@pytest.mark.parametrize("split", ["sroie-dev", "funsd-train"])
def test_real_receipts_and_forms_keep_their_row_order(split: str) -> None:
    """No receipt or form in the shared sets is read as columns (checked on every page of both)."""
    import cv2

    from bench.common import load_pages

    shared_dataset(split)
    for page in load_pages(split, limit=40):
        gray = cv2.imread(str(page.image_path), cv2.IMREAD_GRAYSCALE)
        boxes = detect_lines(gray, DetectionConfig())
        assert boxes == row_order(boxes), page.name


def test_max_lines_cuts_the_blocks_in_reading_order() -> None:
    if not (SERIF.is_file() and SERIF_BOLD.is_file()):
        missing(f"DejaVu Serif not found at {SERIF.parent} (apt: fonts-dejavu-core; make setup-apt)")
    page = columns_page(2)
    full = detect_blocks(page.image, DetectionConfig())
    assert [len(b) for b in full] == [1, 12, 12, 1]
    cut = detect_blocks(page.image, DetectionConfig(max_lines=5))
    assert cut == [full[0], full[1][:4]]


def test_layout_rows_reads_a_column_page_row_by_row_as_one_block() -> None:
    """``detection.layout: rows`` (the operator's switch) turns the column search off: one block,
    the same lines as ``auto`` in plain row order, still cut at ``maxLines``."""
    if not (SERIF.is_file() and SERIF_BOLD.is_file()):
        missing(f"DejaVu Serif not found at {SERIF.parent} (apt: fonts-dejavu-core; make setup-apt)")
    page = columns_page(2)
    auto = detect_lines(page.image, DetectionConfig())
    rows = detect_blocks(page.image, DetectionConfig(layout="rows"))
    assert len(rows) == 1 and sorted(rows[0]) == sorted(auto)
    assert rows[0] == row_order(auto) != auto  # the columns interleave again
    assert detect_blocks(page.image, DetectionConfig(layout="rows", max_lines=5)) == [rows[0][:5]]
    with pytest.raises(ValueError):
        DetectionConfig(layout="columns")
