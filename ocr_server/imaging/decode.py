"""Decode uploaded bytes into a numpy image, refusing decompression bombs before decoding.

Order matters: Pillow reads only the header on ``Image.open``, so the pixel count is checked
against ``limits.maxPixels`` while the image is still a few bytes of header; only then are the
pixels decoded.  Only the formats the API accepts are tried (``formats=``), so no exotic
Pillow plugin ever sees user bytes.  EXIF orientation is applied so that box coordinates match
what a browser shows for the same file.

Large JPEGs are decoded at a reduced scale (libjpeg's DCT scaling via ``Image.draft``) when the
preprocessing would shrink them anyway: the same result for a fraction of the decode time.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import TooManyPixels, UndecodableImage

PIL_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP")
_EXIF_ORIENTATION = 0x0112
_SWAPS_SIDES = {5, 6, 7, 8}  # EXIF orientations that rotate by 90 degrees
_OBJECT_REPR = re.compile(r"<[^<>]* object at 0x[0-9a-f]+>")

# Pillow warns on open about images above its own default size; our limit (limits.maxPixels) is
# checked right after, on every image, so the warning is noise (and a non-JSON line on stderr).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


@dataclass(frozen=True)
class DecodedImage:
    """Pixels (gray ``(H, W)`` or BGR ``(H, W, 3)`` uint8, upright) and the upright full size.

    ``pixels`` may be smaller than ``width`` x ``height`` when the JPEG was decoded reduced;
    :attr:`scale` says by how much, so boxes can be mapped back to the full image.
    """

    pixels: np.ndarray
    width: int
    height: int
    format: str

    @property
    def scale(self) -> float:
        """``pixels`` width divided by the full upright width (1.0 unless decoded reduced)."""
        return self.pixels.shape[1] / self.width


def read_size(data: bytes, max_pixels: int) -> tuple[Image.Image, int, int]:
    """Open lazily (header only) and enforce the pixel limit; the image is not decoded yet."""
    try:
        img = Image.open(io.BytesIO(data), formats=PIL_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        # Pillow's own guard (above 2x its MAX_IMAGE_PIXELS; the warning when warnings are errors)
        raise TooManyPixels(f"image has too many pixels: {err}") from err
    except UnidentifiedImageError as err:
        raise UndecodableImage("image header is invalid (not a readable PNG, JPEG, BMP, TIFF or WebP)") from err
    except Exception as err:  # Pillow raises several types for a bad header
        raise UndecodableImage(f"image header cannot be read: {_reason(err)}") from err
    width, height = img.size
    if width <= 0 or height <= 0:
        raise UndecodableImage(f"image has zero size ({width}x{height})")
    if width * height > max_pixels:
        raise TooManyPixels(f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}")
    return img, width, height


def decode_image(data: bytes, *, max_pixels: int, gray: bool = False, max_side: int | None = None) -> DecodedImage:
    """Decode ``data`` into upright uint8 pixels (gray when ``gray``), checking the pixel limit first.

    ``max_side`` lets a JPEG be decoded reduced to no less than that longer side.  Raises
    :class:`TooManyPixels` (413) or :class:`UndecodableImage` (422).
    """
    img, width, height = read_size(data, max_pixels)
    fmt = img.format or "unknown"
    try:
        orientation = int(img.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # a broken EXIF block must not make a readable image fail
        orientation = 1
    if fmt == "JPEG" and max_side and max(width, height) > 2 * max_side:
        ratio = max_side / max(width, height)
        img.draft("L" if gray else "RGB", (max(1, int(width * ratio) + 1), max(1, int(height * ratio) + 1)))
    try:
        img.load()
        ImageOps.exif_transpose(img, in_place=True)
        pixels = to_array(img, gray=gray)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise TooManyPixels(f"image has too many pixels: {err}") from err
    except Exception as err:  # truncated data, corrupt chunks, unsupported sub-formats
        raise UndecodableImage(f"image cannot be decoded: {_reason(err)}") from err
    finally:
        img.close()
    if orientation in _SWAPS_SIDES:
        width, height = height, width
    return DecodedImage(pixels=pixels, width=width, height=height, format=fmt.lower())


def to_array(img: Image.Image, *, gray: bool) -> np.ndarray:
    """uint8 numpy pixels in OpenCV's layout: gray ``(H, W)`` or BGR ``(H, W, 3)``.

    Transparent images are composited onto white (text on a transparent PNG would otherwise
    turn into black on black); 16-bit images keep their scale, 32-bit and float ones are stretched.
    """
    mode = img.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        arr = np.asarray(img, dtype=np.float32)
        if mode.startswith("I;16"):
            arr = arr / 257.0  # the full 16-bit range onto 8 bits
        else:  # 32-bit int or float: the range is whatever the file uses
            top = float(arr.max()) if arr.size else 0.0
            if top > 255.0:
                arr = arr * (255.0 / top)
        out = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return out if gray else np.repeat(out[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if gray:
        return np.asarray(img.convert("L") if img.mode != "L" else img)
    rgb = np.asarray(img.convert("RGB") if img.mode != "RGB" else img)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _reason(err: Exception) -> str:
    """A short, client-safe description of a decoder exception (no paths, no stack)."""
    text = _OBJECT_REPR.sub("the image", str(err)).strip() or type(err).__name__
    return text[:200]
