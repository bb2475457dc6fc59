"""Plain text: each page's lines in reading order, pages separated by a form feed (U+000C)."""

from __future__ import annotations

from .model import Document

MEDIA_TYPE = "text/plain; charset=utf-8"


def write_text(doc: Document) -> bytes:
    """UTF-8 text ending with a newline (unless empty)."""
    text = doc.text
    return (text + "\n").encode("utf-8") if text else b""
