"""The JSON answers: a single image keeps the original shape exactly; a document gets ``pages``.

Word boxes are opt-in (``words=true``) so that the line objects of existing clients do not change;
page images (``page_images=true``, JPEG data URLs) let a client show what was read (the upload page
uses them for PDF pages, which a browser cannot draw in an ``<img>``).
"""

from __future__ import annotations

import base64
from typing import Any

from .model import Document, Page


def _line(line: Any, words: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "text": line.text,
        "confidence": line.confidence,
        "box": list(line.box),
        "block": getattr(line, "block", 0),
    }
    if words:
        out["words"] = [{"text": w.text, "confidence": w.confidence, "box": list(w.box)} for w in line.words]
    return out


def page_image_url(page: Page) -> str | None:
    """The page image as a JPEG ``data:`` URL (``None`` when it was not kept)."""
    if page.image is None:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(page.image.jpeg).decode()


def to_json(doc: Document, *, words: bool = False, page_images: bool = False) -> dict[str, Any]:
    """The response body as a dict, ready for ``jsonify``."""
    model = {"name": doc.model.name, "version": doc.model.version} if doc.model else None
    if not doc.multipage:
        page = doc.pages[0]
        return {
            "text": page.text,
            "lines": [_line(ln, words) for ln in page.lines],
            "image": {"width": page.width, "height": page.height},
            "model": model,
            "timings_ms": doc.timings_ms,
        }
    pages = []
    for page in doc.pages:
        entry: dict[str, Any] = {
            "page": page.number,
            "width": page.width,
            "height": page.height,
            "dpi": round(page.dpi, 2),
            "source": page.source,
            "text": page.text,
            "lines": [_line(ln, words) for ln in page.lines],
        }
        if page_images:
            entry["image"] = page_image_url(page)
        pages.append(entry)
    return {
        "text": doc.text,
        "document": {"type": doc.kind, "pages": len(doc.pages)},
        "pages": pages,
        "model": model,
        "timings_ms": doc.timings_ms,
    }
