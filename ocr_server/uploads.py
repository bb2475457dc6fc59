"""Read uploaded images from a request and sniff their type by magic bytes; no decoding here.

The file name and the declared content type are never trusted: ``invoice.png`` holding text or a
JPEG is judged by its first bytes.  Bodies stay in memory (see :class:`InMemoryRequest`) and the
whole body is bounded by Flask's ``MAX_CONTENT_LENGTH`` before anything is read, so an upload
can neither fill the disk nor the memory.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO, Any

from flask import Request

from .errors import EmptyUpload, MissingImage, PayloadTooLarge, TooManyImages, UnsupportedMediaType

FIELD = "image"

# (format name, predicate on the first bytes); formats Pillow decodes and the API documents.
_MAGIC: tuple[tuple[str, Any], ...] = (
    ("png", lambda b: b.startswith(b"\x89PNG\r\n\x1a\n")),
    ("jpeg", lambda b: b.startswith(b"\xff\xd8\xff")),
    ("bmp", lambda b: b.startswith(b"BM") and len(b) >= 26),
    ("tiff", lambda b: b.startswith((b"II*\x00", b"MM\x00*"))),
    ("webp", lambda b: len(b) >= 12 and b.startswith(b"RIFF") and b[8:12] == b"WEBP"),
)
SUPPORTED_TYPES = tuple(name for name, _ in _MAGIC)
# Documents (full-page OCR only).  PDF readers accept the header anywhere in the first 1024 bytes.
PDF_HEADER_WINDOW = 1024
DOCUMENT_TYPES = ("pdf",)


@dataclass(frozen=True)
class Upload:
    """One image's bytes with the type its magic bytes say; ``name`` is only for messages."""

    data: bytes
    kind: str
    name: str


class InMemoryRequest(Request):
    """A Flask request whose multipart file parts are kept in memory, never spooled to disk.

    Werkzeug writes file parts above 500 KB to a temporary file; the body is already bounded by
    ``MAX_CONTENT_LENGTH``, so memory is the safer place (no disk writes, nothing to clean up).
    """

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()


def sniff_image_type(data: bytes) -> str | None:
    """The image format named by ``data``'s magic bytes, or ``None`` when it is none we accept."""
    head = data[:32]
    for name, matches in _MAGIC:
        if matches(head):
            return name
    return None


def sniff_document_type(data: bytes) -> str | None:
    """``"pdf"`` when ``data`` carries a PDF header in its first 1024 bytes, else ``None``."""
    return "pdf" if b"%PDF-" in data[:PDF_HEADER_WINDOW] else None


def check_image_bytes(data: bytes, name: str, max_bytes: int, *, documents: bool = False) -> Upload:
    """Validate one image's bytes: not empty, within ``max_bytes``, a supported type by magic
    (a PDF too when ``documents``)."""
    if not data:
        raise EmptyUpload(f"{name} is empty (0 bytes)")
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{name} is {len(data)} bytes; the limit is {max_bytes}")
    kind = sniff_image_type(data) or (sniff_document_type(data) if documents else None)
    if kind is None:
        accepted = SUPPORTED_TYPES + (DOCUMENT_TYPES if documents else ())
        raise UnsupportedMediaType(
            f"{name} is not a supported image (by its content, not its name): send {', '.join(accepted)}"
        )
    return Upload(data=data, kind=kind, name=name)


def read_uploads(request: Request, *, max_bytes: int, max_count: int, documents: bool = False) -> list[Upload]:
    """The images of a request: repeated multipart field ``image``, or the raw body (PDFs as well
    when ``documents``).

    Raises the matching :mod:`ocr_server.errors` class for a missing, empty, oversize,
    unsupported or too numerous upload.
    """
    if request.mimetype == "multipart/form-data":
        files = request.files.getlist(FIELD)
        if not files:
            raise MissingImage()
        if len(files) > max_count:
            raise TooManyImages(f"{len(files)} images sent; at most {max_count} per request")
        return [
            check_image_bytes(f.read(), f"image {i + 1} ({f.filename or 'unnamed'})", max_bytes, documents=documents)
            for i, f in enumerate(files)
        ]
    if request.mimetype == "application/x-www-form-urlencoded":
        raise MissingImage("form uploads must be multipart/form-data with field 'image'")
    data = request.get_data(cache=False)
    if not data and not request.mimetype:
        raise MissingImage()
    return [check_image_bytes(data, "request body", max_bytes, documents=documents)]
