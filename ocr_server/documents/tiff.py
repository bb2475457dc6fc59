"""Every frame of a multi-page TIFF, each checked against the pixel limits before it is decoded.

Pillow walks a TIFF's chain of image directories one ``seek`` at a time, so frames are visited
lazily and counting stops at ``maxPages + 1``: a file that chains a hundred thousand tiny
directories costs no more than the limit.  Pillow itself refuses directory loops.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

from PIL import Image, ImageOps

from ..errors import TooManyPages, TooManyPixels, UndecodableImage
from ..imaging.decode import DecodedImage, _reason, to_array

TIFF_RESOLUTION_UNITS_CM = 3


def _open(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=("TIFF",))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise TooManyPixels(f"image has too many pixels: {err}") from err
    except Exception as err:
        raise UndecodableImage(f"TIFF header cannot be read: {_reason(err)}") from err


def is_multipage_tiff(data: bytes) -> bool:
    """Whether the TIFF has a second frame (only the first two directories are read)."""
    try:
        with _open(data) as img:
            img.seek(1)
            return True
    except (EOFError, UndecodableImage, TooManyPixels):
        return False
    except Exception:  # a broken second directory: let the single-image path report the file
        return False


def frame_dpi(img: Image.Image) -> float | None:
    """The frame's horizontal resolution in dots per inch, when the file states a plausible one."""
    dpi = img.info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError):
        return None
    return value if 36.0 <= value <= 2400.0 else None


def iter_tiff_pages(
    data: bytes, *, max_pixels: int, max_pages: int, max_document_pixels: int, gray: bool
) -> Iterator[tuple[DecodedImage, float | None]]:
    """Decoded upright frames with their dpi, in order; raises the matching error for a limit.

    The page count is checked first (walking directories is cheap), then each frame's size before
    its pixels are decoded, and the running total against ``max_document_pixels``.
    """
    with _open(data) as img:
        count = 0
        try:
            while True:
                img.seek(count)
                count += 1
                if count > max_pages:
                    raise TooManyPages(f"the TIFF has more than {max_pages} pages; the limit is {max_pages}")
        except EOFError:
            pass
        except TooManyPages:
            raise
        except Exception as err:
            raise UndecodableImage(f"TIFF page {count + 1} cannot be read: {_reason(err)}") from err
        total = 0
        for index in range(count):
            try:
                img.seek(index)
            except Exception as err:
                raise UndecodableImage(f"TIFF page {index + 1} cannot be read: {_reason(err)}") from err
            width, height = img.size
            if width <= 0 or height <= 0:
                raise UndecodableImage(f"TIFF page {index + 1} has zero size ({width}x{height})")
            if width * height > max_pixels:
                raise TooManyPixels(
                    f"TIFF page {index + 1} is {width}x{height} = {width * height} pixels; the limit is {max_pixels}"
                )
            total += width * height
            if total > max_document_pixels:
                raise TooManyPixels(
                    f"the TIFF's pages come to more than {max_document_pixels} pixels (the limit per document)"
                )
            try:
                img.load()
                frame = ImageOps.exif_transpose(img)
                pixels = to_array(frame, gray=gray)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
                raise TooManyPixels(f"TIFF page {index + 1} has too many pixels: {err}") from err
            except Exception as err:
                raise UndecodableImage(f"TIFF page {index + 1} cannot be decoded: {_reason(err)}") from err
            h, w = pixels.shape[:2]
            yield DecodedImage(pixels=pixels, width=w, height=h, format="tiff"), frame_dpi(img)
