"""Decode uploaded bytes into a numpy image, refusing decompression bombs before decoding.

Order matters: Pillow reads only the header on ``Image.open``, so the pixel count is checked
against ``limits.maxPixels`` while the image is still a few bytes of header; only then are the
pixels decoded.  Only the formats the API accepts are tried (``formats=``), so no exotic
Pillow plugin ever sees user bytes.  EXIF orientation is applied so that box coordinates match
what a browser shows for the same file.

Large JPEGs are decoded at a reduced scale (libjpeg's DCT scaling via ``Image.draft``) when the
preprocessing would shrink them anyway: the same result for a fraction of the decode time.

Decoding cost is bounded whatever the bytes say: JPEGs with more scans than any encoder writes are
refused from their markers (:mod:`.jpeg`), and the decoders read the data through
:class:`DeadlineReader`, so a request past its deadline stops within one small block.  Messages
are written here, never copied from the decoder (they name library internals).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..deadline import NO_DEADLINE, Deadline
from ..errors import OcrError, TooManyPixels, TooManyScans, UndecodableImage
from .jpeg import MAX_SCANS, count_scans
from .libtiff import silence_libtiff

PIL_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP")
_EXIF_ORIENTATION = 0x0112
_SWAPS_SIDES = {5, 6, 7, 8}  # EXIF orientations that rotate by 90 degrees
# Bytes handed to a decoder per call: the granularity at which a late request stops decoding.
DECODE_BLOCK = 16 * 1024
COMPOSITE_STRIP_ROWS = 256
UNDECODABLE = "the image data cannot be decoded (corrupt, truncated or an unsupported variant)"

# Pillow warns on open about images above its own default size; our limit (limits.maxPixels) is
# checked right after, on every image, so the warning is noise (and a non-JSON line on stderr).
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# Pillow's warnings about a file's damage ("Corrupt EXIF data", "Tag offset too large") describe the
# client's file, which is answered 4xx or read anyway: a client must not be able to write our logs.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
silence_libtiff()


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


class DeadlineReader(io.BytesIO):
    """In-memory image bytes whose every read first checks the request's deadline.

    Pillow's decoders pull their input block by block through ``read``; raising here is the one
    way to stop a decoder (libjpeg, zlib, libtiff) part-way without killing the thread.
    """

    def __init__(self, data: bytes, deadline: Deadline) -> None:
        super().__init__(data)
        self._deadline = deadline

    def read(self, size: int | None = -1, /) -> bytes:
        self._deadline.check()
        return super().read(size)


def check_jpeg_scans(data: bytes) -> None:
    """Refuse a JPEG with more than :data:`~.jpeg.MAX_SCANS` scans (no-op for other formats)."""
    if data[:2] == b"\xff\xd8":
        scans = count_scans(data)
        if scans > MAX_SCANS:
            raise TooManyScans(f"the JPEG has more than {MAX_SCANS} scans; real encoders write at most about 20")


def read_size(data: bytes, max_pixels: int, deadline: Deadline = NO_DEADLINE) -> tuple[Image.Image, int, int]:
    """Open lazily (header only) and enforce the pixel and scan limits; the image is not decoded yet."""
    check_jpeg_scans(data)
    try:
        img = Image.open(DeadlineReader(data, deadline), formats=PIL_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        # Pillow's own guard (above 2x its MAX_IMAGE_PIXELS; the warning when warnings are errors):
        # quote our limit, not Pillow's
        raise TooManyPixels(f"the image has more pixels than the limit of {max_pixels}") from err
    except OcrError:
        raise
    except UnidentifiedImageError as err:
        raise UndecodableImage("image header is invalid (not a readable PNG, JPEG, BMP, TIFF or WebP)") from err
    except Exception as err:  # Pillow raises several types for a bad header
        raise UndecodableImage("the image header cannot be read (corrupt or an unsupported variant)") from err
    width, height = img.size
    if width <= 0 or height <= 0:
        raise UndecodableImage(f"image has zero size ({width}x{height})")
    if width * height > max_pixels:
        raise TooManyPixels(f"image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}")
    return img, width, height


def probe_size(data: bytes, max_pixels: int) -> tuple[int, int]:
    """``(width, height)`` as stored, from the header alone, after the pixel and scan checks.

    Cheap (no pixel is decoded): the API adds these up to enforce per-request and per-worker
    pixel budgets before any decoding starts."""
    img, width, height = read_size(data, max_pixels)
    img.close()
    return width, height


def decode_image(
    data: bytes,
    *,
    max_pixels: int,
    gray: bool = False,
    max_side: int | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> DecodedImage:
    """Decode ``data`` into upright uint8 pixels (gray when ``gray``), checking the limits first.

    ``max_side`` lets a JPEG be decoded reduced to no less than that longer side.  Raises
    :class:`TooManyPixels` (413), :class:`UndecodableImage` (422) or, past ``deadline``,
    :class:`~ocr_server.errors.RequestTimedOut`.
    """
    img, width, height = read_size(data, max_pixels, deadline)
    img.decodermaxblock = DECODE_BLOCK
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
        raise TooManyPixels(f"the image has more pixels than the limit of {max_pixels}") from err
    except OcrError:
        raise  # the deadline, from DeadlineReader
    except Exception as err:  # truncated data, corrupt chunks, unsupported sub-formats
        raise UndecodableImage(_reason(err)) from err
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
        # in place: one float32 copy at most (a 40 M pixel image must not cost 5 copies)
        arr = np.array(img, dtype=np.float32)
        if mode.startswith("I;16"):
            arr /= 257.0  # the full 16-bit range onto 8 bits
        else:  # 32-bit int or float: the range is whatever the file uses
            top = float(arr.max()) if arr.size else 0.0
            if top > 255.0:
                arr *= 255.0 / top
        np.rint(arr, out=arr)
        np.clip(arr, 0, 255, out=arr)
        out = arr.astype(np.uint8)
        del arr
        return out if gray else np.repeat(out[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        return _composite_on_white(img, gray=gray)
    if gray:
        return np.asarray(img.convert("L") if img.mode != "L" else img)
    rgb = np.asarray(img.convert("RGB") if img.mode != "RGB" else img)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _composite_on_white(img: Image.Image, *, gray: bool) -> np.ndarray:
    """Transparent pixels onto white, strip by strip.

    Compositing the whole image at once holds the source, an RGBA copy, a white RGBA background
    and the result together: 16 bytes per pixel, 640 MB for a 40 M pixel image.  Strips of
    :data:`COMPOSITE_STRIP_ROWS` rows hold only the source and the result (5 to 7 bytes a pixel)."""
    width, height = img.size
    out = np.empty((height, width) if gray else (height, width, 3), dtype=np.uint8)
    for top in range(0, height, COMPOSITE_STRIP_ROWS):
        bottom = min(height, top + COMPOSITE_STRIP_ROWS)
        strip = img.crop((0, top, width, bottom)).convert("RGBA")
        background = Image.new("RGBA", strip.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(background, strip)
        if gray:
            out[top:bottom] = np.asarray(flat.convert("L"))
        else:
            out[top:bottom] = np.asarray(flat.convert("RGB"))[:, :, ::-1]
    return out


def _reason(err: Exception) -> str:
    """A client-safe message for a decoder exception: ours, never the library's wording
    (``decoder error -9``, ``PngImagePlugin.MAX_TEXT_CHUNK`` say nothing useful to a client
    and name internals)."""
    text = str(err).lower()
    if "truncated" in text:
        return "the image data is truncated"
    if "too large" in text or "memory" in text:
        return "the image holds more metadata than the server accepts"
    return UNDECODABLE
